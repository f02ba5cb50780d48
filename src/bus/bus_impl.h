/* What an adapter of the bus port provides. Only src/bus/ includes this file. */
#ifndef BUS_BUS_IMPL_H
#define BUS_BUS_IMPL_H

#include "bus/bus.h"

typedef struct bus_ops {
    const char *name; /* "local", "nats" */
    status (*request)(bus *b, const char *subject, const message *request, int64_t deadline_ms,
                      bus_reply_cb cb, void *ctx);
    status (*serve)(bus *b, const char *subject, const char *queue_group, bus_handler_cb cb,
                    void *ctx, bus_subscription **out);
    status (*publish)(bus *b, const char *subject, const message *m);
    /* NULL: bus_publish_many calls publish for each. */
    status (*publish_many)(bus *b, const char *subject, const message *ms, size_t n);
    status (*subscribe)(bus *b, const char *subject, bus_message_cb cb, void *ctx,
                        bus_subscription **out);
    void (*unsubscribe)(bus_subscription *sub);
    void (*close)(bus *b);
} bus_ops;

/* Every adapter's bus struct starts with this header. */
struct bus {
    const bus_ops *ops;
};

/* Every adapter's bus_reply starts with this header. */
struct bus_reply {
    void (*answer)(bus_reply *reply, const message *answer);
};

/* Every adapter's subscription starts with this header. */
struct bus_subscription {
    bus *owner;
};

status bus_local_open(bus **out);
status bus_nats_open(const char *servers, const bus_options *opts, bus **out);

#endif
