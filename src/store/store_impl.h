/* What an adapter of the store port provides. Only src/store/ includes this file.
 * store.c checks arguments and limits before calling an adapter, so adapters can trust them. */
#ifndef STORE_STORE_IMPL_H
#define STORE_STORE_IMPL_H

#include <stdbool.h>

#include "store/store.h"

typedef struct store_ops {
    const char *name; /* "sqlite", "bkes", "jetstream" */
    status (*append_async)(store *s, store_bytes key, uint32_t expected_order,
                           const store_bytes *values, size_t n, store_append_cb cb, void *ctx);
    status (*read)(store *s, store_bytes key, uint32_t from_order, store_event_cb cb, void *ctx);
    status (*count)(store *s, store_bytes key, uint32_t *count);
    /* Optional (NULL: read): store_read_local. */
    status (*read_local)(store *s, store_bytes key, uint32_t from_order, store_event_cb cb,
                         void *ctx);
    status (*head)(store *s, uint64_t *position);
    status (*subscribe)(store *s, uint64_t from_position, store_event_cb cb, void *ctx,
                        store_subscription **out);
    void (*subscription_close)(store_subscription *sub);
    void (*close)(store *s);
    /* Optional (NULL: store_append waits for append_async's callback): a blocking append, for an
     * adapter that can answer without handing the call to another thread and back. */
    status (*append)(store *s, store_bytes key, uint32_t expected_order, const store_bytes *values,
                     size_t n, store_appended *out, uint32_t *current_order);
} store_ops;

/* Every adapter's store struct starts with this header. */
struct store {
    const store_ops *ops;
};

/* Every adapter's subscription struct starts with this header too, so store_subscription_close
 * can find the adapter (e.g. `typedef struct my_sub { store_subscription base; ... } my_sub;`). */
struct store_subscription {
    const store_ops *ops;
};

/* Adapter constructors, called by store_open with the part of the URL after the scheme. */
status store_sqlite_open(const char *dir, const char *name, store **out);
/* `tls`: the URL was bkes+tls://. `opts` may be NULL. */
status store_bkes_open(const char *host_port, const char *name, bool tls, const store_options *opts,
                       store **out);
/* `servers` is "HOSTS[/NAME]"; `opts` may be NULL. */
status store_jetstream_open(const char *servers, const char *name, const store_options *opts,
                            store **out);

#endif
