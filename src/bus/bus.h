/* The bus port: request/reply with a deadline for commands and queries, and publish/subscribe for
 * derived events. Adapters: `local` (in-process queues and worker threads, the default in one
 * process) and `nats` (core NATS with queue groups, so many instances share the work).
 *
 * Payloads are `message` records (src/domain/messages.h); the nats adapter encodes them with the
 * codec, the local one copies the structs. Subjects are dot-separated names (BUS_SUBJECT_*).
 *
 * Threads: every function may be called from any thread. Callbacks run on a bus thread, or on the
 * thread that answered (reply callbacks) or published (local subscriptions); they must be quick
 * (hand work to a queue) and must not unsubscribe their own subscription. A handler may answer
 * later from any thread through its bus_reply handle. */
#ifndef BUS_BUS_H
#define BUS_BUS_H

#include <stdint.h>

#include "base/status.h"
#include "domain/messages.h"

/* The bank's subjects. */
#define BUS_SUBJECT_USER_COMMANDS "bank.commands.user"
#define BUS_SUBJECT_BANK_COMMANDS "bank.commands.bank"
#define BUS_SUBJECT_USER_QUERIES "bank.queries.user"
#define BUS_SUBJECT_BANK_QUERIES "bank.queries.bank"
#define BUS_SUBJECT_TRANSACTIONS "bank.transactions"
/* Beyond the seed (issue 15): the queries that read the event stores (answered by projectors),
 * and the alerts the projectors derive (fanned out by every API instance). */
#define BUS_SUBJECT_HISTORY_QUERIES "bank.queries.history"
#define BUS_SUBJECT_ALERTS "bank.alerts"

/* The seed's deadline for every command and query, and its text when it passes. */
#define BUS_DEFAULT_DEADLINE_MS 2000

typedef struct bus bus;
typedef struct bus_reply bus_reply;               /* one pending answer of a served request */
typedef struct bus_subscription bus_subscription; /* a served subject or a subscription */

/* The answer to a request: `st` is ST_OK with `reply` set, or ST_TIMEOUT (reply NULL, no answer
 * within the deadline), ST_UNAVAILABLE (no server for the subject) or ST_CLOSED. Called exactly
 * once. `reply` is valid during the call only. */
typedef void (*bus_reply_cb)(void *ctx, status st, const message *reply);

/* A served request: answer it exactly once with bus_answer (now or later, from any thread).
 * `request` is valid during the call only. */
typedef void (*bus_handler_cb)(void *ctx, const message *request, bus_reply *reply);

/* A published message. `m` is valid during the call only. */
typedef void (*bus_message_cb)(void *ctx, const message *m);

/* Opens a bus from a URL: "local:" (in-process) or "nats://HOST:PORT[,HOST:PORT...]".
 * Caller owns the result (bus_close). */
status bus_open(const char *url, bus **out);

/* How a bus delivers (bus_open_with). Zeroed: the defaults. */
typedef struct bus_options {
    /* nats: 0 gives each served subject and each subscription a thread of its own, so a handler
     * that waits (a store read) holds up only its own subject. N > 0 makes them all share N
     * threads, which wake far less often per message; then no handler or callback may wait for
     * another delivery of the bus. The local bus ignores it. */
    int delivery_threads;
} bus_options;

/* bus_open with `opts` (NULL: the defaults). */
status bus_open_with(const char *url, const bus_options *opts, bus **out);

/* Stops serving, answers pending requests with ST_CLOSED, joins the bus threads, frees. */
void bus_close(bus *b);

/* Sends `request` to one server of `subject` and calls `cb` with its answer or a timeout after
 * `deadline_ms`. A non-OK return (e.g. ST_UNAVAILABLE when the local bus knows nobody serves the
 * subject, ST_BUSY when its queue is full) means `cb` will not be called. */
status bus_request(bus *b, const char *subject, const message *request, int64_t deadline_ms,
                   bus_reply_cb cb, void *ctx);

/* Serves `subject`: each request goes to one member of `queue_group` (any name; servers with the
 * same group share the requests). Caller owns the result (bus_unsubscribe). */
status bus_serve(bus *b, const char *subject, const char *queue_group, bus_handler_cb cb, void *ctx,
                 bus_subscription **out);

/* Publishes `ms[0..n)` to `subject`, in order: the same as n bus_publish calls for every
 * subscriber, but the nats adapter sends them as few NATS messages (one up to BUS_BATCH_BYTES of
 * encoded messages), so a projector's batch of transactions costs the server, the network and each
 * subscriber one message instead of hundreds. A message that cannot be encoded fails the call
 * before anything of it is sent. */
status bus_publish_many(bus *b, const char *subject, const message *ms, size_t n);

/* The most encoded bytes the nats adapter puts in one NATS message of bus_publish_many. */
#define BUS_BATCH_BYTES (256 * 1024)

/* Answers a served request and frees `reply`. Any thread. A request whose deadline passed is
 * answered into nothing. */
void bus_answer(bus_reply *reply, const message *answer);

/* Delivers `m` to every current subscriber of `subject` (at most once each; no persistence). */
status bus_publish(bus *b, const char *subject, const message *m);

/* Subscribes to every message published on `subject` from now on. */
status bus_subscribe(bus *b, const char *subject, bus_message_cb cb, void *ctx,
                     bus_subscription **out);

/* Ends a subscription or a served subject; when it returns, its callback is not running and will
 * not be called again. */
void bus_unsubscribe(bus_subscription *sub);

#endif
