/* One status type for the whole project: every call that can fail returns a status
 * (0 = OK) and records a message a person can act on, per thread (as nats.c does). */
#ifndef BASE_STATUS_H
#define BASE_STATUS_H

typedef enum status {
    ST_OK = 0,
    ST_INVALID,     /* bad input from a caller or from outside */
    ST_NOT_FOUND,   /* the thing asked for does not exist */
    ST_CONFLICT,    /* optimistic concurrency: someone else wrote first */
    ST_LIMIT,       /* a configured bound would be exceeded */
    ST_IO,          /* the operating system or a storage engine failed */
    ST_NOMEM,       /* allocation failed */
    ST_TIMEOUT,     /* no answer within the deadline */
    ST_CLOSED,      /* the object was closed or is shutting down */
    ST_BUSY,        /* held by someone else (e.g. a store locked by another process) */
    ST_UNAVAILABLE, /* a remote peer cannot be reached */
    ST_INTERNAL,    /* a bug of ours: an invariant did not hold */
} status;

/* The fixed name of a code, e.g. "invalid". Never NULL. */
const char *status_name(status code);

/* Records `fmt` as this thread's last error message and returns `code` (for `return
 * status_set(...)`). */
status status_set(status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last message set by status_set, or the code's name if none was set since the last
 * status_clear. Valid until the next status_set on this thread. */
const char *status_message(void);

/* Forgets this thread's last message. */
void status_clear(void);

/* Evaluates `expr` (a status) and returns it from the calling function when it is not ST_OK. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        status try_status_ = (expr);                                                               \
        if (try_status_ != ST_OK) return try_status_;                                              \
    } while (0)

#endif
