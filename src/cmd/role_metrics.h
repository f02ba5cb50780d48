/* The /metrics lines of what runs behind the API in a `bank` process: the event stores (the
 * sqlite or jetstream adapter's counters, and how far a local index is behind its stream), the
 * projector's progress and the command handler's partitions. With them a `bank commands` or
 * `bank projector` process (its --admin-listen) is as visible as the API; the command path's own
 * counters are command_service_metrics. Prometheus text appended to `out`; each function writes
 * nothing for what this process does not run (NULL). */
#ifndef CMD_ROLE_METRICS_H
#define CMD_ROLE_METRICS_H

#include "bank/partition_nats.h"
#include "bank/partitions.h"
#include "bank/projector.h"
#include "base/buf.h"
#include "base/status.h"
#include "store/store.h"

/* The stores named `names` (user, bank, transfer); a store of another adapter adds nothing. */
status role_metrics_stores(buf *out, store *const stores[3], const char *const names[3]);

status role_metrics_projector(buf *out, projector *p);

/* The partitions owned; with `f` (the lease keeper's figures), how its rounds went. */
status role_metrics_partitions(buf *out, const partitions *parts, const partition_nats_stats *f);

#endif
