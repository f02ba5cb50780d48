# Helpers for tests. Tests find the programs under test through BIN_DIR and the
# npm oracles under tests/node_modules.

set(TEST_ENV "BIN_DIR=${CMAKE_BINARY_DIR}/bin;SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")

# bank_unit_test(NAME SOURCES... LIBS ...): a cmocka test binary run by ctest.
function(bank_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${TEST_ENV}" LABELS unit)
endfunction()

# bank_node_test(NAME SCRIPT [TIMEOUT s]): a node:test script run against our real binaries.
function(bank_node_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  find_program(NODE node REQUIRED)
  add_test(NAME ${name} COMMAND ${NODE} --test --test-reporter=spec ${script}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
  # The timeout is a hang guard for ctest, not a performance limit.
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${TEST_ENV}" LABELS integration
                       TIMEOUT ${T_TIMEOUT})
endfunction()

# House style is part of the test suite, so CI checks it too.
add_test(NAME lint COMMAND ${CMAKE_SOURCE_DIR}/scripts/lint.sh)
set_tests_properties(lint PROPERTIES LABELS style)

# bank_fuzz_target(NAME SOURCES... LIBS ... [CORPUS dir]): a libFuzzer target (only with -DFUZZ=ON,
# see `make fuzz`). The same source also builds, in every build, as NAME_replay: a plain program
# that feeds each file of the corpus once, so the normal test run exercises the fuzz entry point.
function(bank_fuzz_target name)
  cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(FUZZ)
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE ${T_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    set_property(GLOBAL APPEND PROPERTY BANK_FUZZ_TARGETS ${name})
  else()
    add_executable(${name}_replay ${T_SOURCES} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
    target_link_libraries(${name}_replay PRIVATE ${T_LIBS})
    set_target_properties(${name}_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    if(T_CORPUS)
      add_test(NAME ${name}_replay COMMAND ${name}_replay ${T_CORPUS})
      set_tests_properties(${name}_replay PROPERTIES ENVIRONMENT "${TEST_ENV}" LABELS fuzz)
    endif()
  endif()
endfunction()

# A short libFuzzer run of every fuzz target in the normal test suite (when clang is installed):
# scripts/fuzz-smoke.sh builds only the fuzz targets in their own clang tree and runs each briefly.
find_program(CLANG clang)
if(CLANG AND NOT FUZZ)
  add_test(NAME fuzz_smoke COMMAND ${CMAKE_SOURCE_DIR}/scripts/fuzz-smoke.sh
           ${CMAKE_BINARY_DIR}/fuzz-tree)
  set_tests_properties(fuzz_smoke PROPERTIES LABELS fuzz TIMEOUT 900
                       ENVIRONMENT "FUZZ_SECONDS=15")
endif()
