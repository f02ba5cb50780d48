/* Logging with levels to stderr: "2026-11-28T17:00:00.123Z INFO  store: message".
 * Thread-safe (one write per line). Never log a password, token or key material. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

typedef enum log_level {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_OFF
} log_level;

/* Sets the lowest level that is printed (default INFO). A program sets it from its flags
 * (`--log-level`, or LOG_LEVEL in its environment: cmd/config.h). Any thread. */
void log_set_level(log_level level);
log_level log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off" (any case). ST_INVALID otherwise. */
#include "base/status.h"
status log_level_parse(const char *text, log_level *out);

void log_write(log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_DEBUG(module, ...) log_write(LOG_LEVEL_DEBUG, module, __VA_ARGS__)
#define LOG_INFO(module, ...) log_write(LOG_LEVEL_INFO, module, __VA_ARGS__)
#define LOG_WARN(module, ...) log_write(LOG_LEVEL_WARN, module, __VA_ARGS__)
#define LOG_ERROR(module, ...) log_write(LOG_LEVEL_ERROR, module, __VA_ARGS__)

#endif
