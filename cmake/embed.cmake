# bank_embed(TARGET_SOURCES_VAR SYMBOL FILE): compiles FILE into the build as
#   const char SYMBOL[]; const size_t SYMBOL_len;
# (NUL-terminated), regenerated whenever FILE changes. Appends the generated .c to the variable.
function(bank_embed out_var symbol file)
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(
    OUTPUT ${generated}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${generated} -DSYMBOL=${symbol}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding ${file}")
  set(${out_var} ${${out_var}} ${generated} PARENT_SCOPE)
endfunction()
