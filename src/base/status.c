#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[512];
static _Thread_local int has_message;
static _Thread_local status last_code;

const char *status_name(status code)
{
    switch (code) {
    case ST_OK:
        return "ok";
    case ST_INVALID:
        return "invalid";
    case ST_NOT_FOUND:
        return "not found";
    case ST_CONFLICT:
        return "conflict";
    case ST_LIMIT:
        return "limit exceeded";
    case ST_IO:
        return "i/o error";
    case ST_NOMEM:
        return "out of memory";
    case ST_TIMEOUT:
        return "timed out";
    case ST_CLOSED:
        return "closed";
    case ST_BUSY:
        return "busy";
    case ST_UNAVAILABLE:
        return "unavailable";
    case ST_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

status status_set(status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    has_message = 1;
    last_code = code;
    return code;
}

const char *status_message(void)
{
    return has_message ? last_message : status_name(last_code);
}

void status_clear(void)
{
    has_message = 0;
    last_code = ST_OK;
    last_message[0] = '\0';
}
