/* bus_open dispatch and the generic wrappers of the bus port. */
#include <string.h>

#include "bus/bus_impl.h"

status bus_open(const char *url, bus **out)
{
    return bus_open_with(url, NULL, out);
}

status bus_open_with(const char *url, const bus_options *opts, bus **out)
{
    if (!strcmp(url, "local:") || !strcmp(url, "local")) return bus_local_open(out);
#if BANK_WITH_NATS
    static const bus_options defaults = {0};
    if (!strncmp(url, "nats://", 7)) return bus_nats_open(url + 7, opts ? opts : &defaults, out);
#else
    (void)opts;
    if (!strncmp(url, "nats://", 7))
        return status_set(ST_INVALID,
                          "this build has no nats bus adapter (built with BANK_WITH_NATS=OFF)");
#endif
    return status_set(ST_INVALID, "unknown bus '%s' (use local: or nats://HOST:PORT)", url);
}

void bus_close(bus *b)
{
    if (b) b->ops->close(b);
}

status bus_request(bus *b, const char *subject, const message *request, int64_t deadline_ms,
                   bus_reply_cb cb, void *ctx)
{
    if (deadline_ms <= 0) return status_set(ST_INVALID, "a bus request needs a positive deadline");
    return b->ops->request(b, subject, request, deadline_ms, cb, ctx);
}

status bus_serve(bus *b, const char *subject, const char *queue_group, bus_handler_cb cb, void *ctx,
                 bus_subscription **out)
{
    return b->ops->serve(b, subject, queue_group, cb, ctx, out);
}

void bus_answer(bus_reply *reply, const message *answer)
{
    reply->answer(reply, answer);
}

status bus_publish(bus *b, const char *subject, const message *m)
{
    return b->ops->publish(b, subject, m);
}

status bus_publish_many(bus *b, const char *subject, const message *ms, size_t n)
{
    if (b->ops->publish_many) return b->ops->publish_many(b, subject, ms, n);
    for (size_t i = 0; i < n; i++)
        TRY(b->ops->publish(b, subject, &ms[i]));
    return ST_OK;
}

status bus_subscribe(bus *b, const char *subject, bus_message_cb cb, void *ctx,
                     bus_subscription **out)
{
    return b->ops->subscribe(b, subject, cb, ctx, out);
}

void bus_unsubscribe(bus_subscription *sub)
{
    if (sub) sub->owner->ops->unsubscribe(sub);
}
