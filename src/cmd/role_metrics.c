#include "cmd/role_metrics.h"

#include <inttypes.h>

#include "store/sqlite_store.h"
#if BANK_WITH_NATS
#include "store/jetstream_store.h"
#endif

#define LINE(fmt, ...) TRY(buf_appendf(out, fmt "\n", __VA_ARGS__))
#define HEAD(name, type, help)                                                                     \
    TRY(buf_appendf(out, "# HELP " name " " help "\n# TYPE " name " " type "\n"))

/* One family of per-store lines: `value`, an expression of i_, for each store i_ that `have` marks.
 */
#define PER_STORE(name, type, help, have, value)                                                   \
    do {                                                                                           \
        HEAD(name, type, help);                                                                    \
        for (int i_ = 0; i_ < 3; i_++)                                                             \
            if (have[i_]) LINE(name "{store=\"%s\"} %" PRIu64, names[i_], (uint64_t)(value));      \
    } while (0)

status role_metrics_stores(buf *out, store *const stores[3], const char *const names[3])
{
    /* A process's stores share one adapter; each family is written once. */
    struct {
        uint64_t appends, events, conflicts, failures;
    } c[3];
    bool have[3], any = false, sqlite[3] = {0}, jetstream[3] = {0};
    store_sqlite_stats sq[3];
#if BANK_WITH_NATS
    store_jetstream_stats js[3];
#endif
    for (int i = 0; i < 3; i++) {
        have[i] = false;
        if (stores[i] && store_sqlite_stats_get(stores[i], &sq[i]) == ST_OK) {
            have[i] = sqlite[i] = true;
            c[i].appends = sq[i].appends, c[i].events = sq[i].events;
            c[i].conflicts = sq[i].conflicts, c[i].failures = sq[i].failures;
        }
#if BANK_WITH_NATS
        else if (stores[i] && store_jetstream_stats_get(stores[i], &js[i]) == ST_OK) {
            have[i] = jetstream[i] = true;
            c[i].appends = js[i].appends, c[i].events = js[i].events;
            c[i].conflicts = js[i].conflicts, c[i].failures = js[i].failures;
        }
#endif
        any |= have[i];
    }
    if (!any) return ST_OK;
    PER_STORE("bank_store_appends_total", "counter", "Appends stored by this process.", have,
              c[i_].appends);
    PER_STORE("bank_store_events_total", "counter", "Events stored by this process.", have,
              c[i_].events);
    PER_STORE("bank_store_conflicts_total", "counter",
              "Appends refused because the key had moved on (optimistic concurrency).", have,
              c[i_].conflicts);
    PER_STORE("bank_store_failures_total", "counter", "Appends that failed.", have, c[i_].failures);
    if (sqlite[0] || sqlite[1] || sqlite[2]) {
        PER_STORE("bank_store_transactions_total", "counter",
                  "Write transactions committed (one fsync each; a group commit answers several "
                  "appends).",
                  sqlite, sq[i_].transactions);
        PER_STORE("bank_store_queued", "gauge", "Appends waiting for the store's writer now.",
                  sqlite, sq[i_].queued);
    }
#if BANK_WITH_NATS
    if (jetstream[0] || jetstream[1] || jetstream[2]) {
        PER_STORE("bank_store_publishes_total", "counter",
                  "JetStream publishes (first tries and retries).", jetstream, js[i_].publishes);
        PER_STORE("bank_store_publish_retries_total", "counter",
                  "Events published again (no answer, or refused for now, e.g. a leader "
                  "election).",
                  jetstream, js[i_].retries);
        PER_STORE("bank_store_sent_ahead_total", "counter",
                  "Events of a batch sent before their predecessor's acknowledgement.", jetstream,
                  js[i_].sent_ahead);
        PER_STORE("bank_store_stored_ahead_total", "counter",
                  "Of those, the ones stored that way (the rest went again).", jetstream,
                  js[i_].stored_ahead);
        PER_STORE("bank_store_publishes_in_flight", "gauge",
                  "Publishes waiting for their acknowledgement now.", jetstream, js[i_].in_flight);
        PER_STORE("bank_store_indexed_position", "gauge",
                  "The last stream sequence the local index holds.", jetstream, js[i_].indexed);
        PER_STORE("bank_store_index_behind", "gauge",
                  "Messages the server still had after the local index's last delivery (how far "
                  "the index is behind the stream).",
                  jetstream, js[i_].index_pending);
    }
#endif
    return ST_OK;
}

status role_metrics_projector(buf *out, projector *p)
{
    if (p == NULL) return ST_OK;
    projector_stats st;
    projector_stats_get(p, &st);
    HEAD("bank_projector_applied_position", "gauge",
         "The last position of each store applied to the read model.");
    for (int i = 0; i < 3; i++)
        LINE("bank_projector_applied_position{store=\"%s\"} %" PRIu64, st.stores[i].name,
             st.stores[i].applied);
    HEAD("bank_projector_queued_events", "gauge",
         "Events received from each store and not applied yet.");
    for (int i = 0; i < 3; i++)
        LINE("bank_projector_queued_events{store=\"%s\"} %zu", st.stores[i].name,
             st.stores[i].queued);
    HEAD("bank_projector_events_applied_total", "counter", "Events applied to the read model.");
    LINE("bank_projector_events_applied_total %" PRIu64, st.events_applied);
    HEAD("bank_projector_batches_total", "counter", "Read model transactions committed.");
    LINE("bank_projector_batches_total %" PRIu64, st.batches);
    HEAD("bank_projector_transactions_published_total", "counter",
         "Transactions derived and published to the APIs.");
    LINE("bank_projector_transactions_published_total %" PRIu64, st.transactions_published);
    HEAD("bank_projector_caught_up", "gauge",
         "1 once the read model has caught up with what the stores held at start.");
    LINE("bank_projector_caught_up %d", st.caught_up ? 1 : 0);
    return ST_OK;
}

status role_metrics_partitions(buf *out, const partitions *parts, const partition_nats_stats *f)
{
    if (parts == NULL) return ST_OK;
    HEAD("bank_partitions_owned", "gauge", "Partitions of the aggregate keys this process owns.");
    LINE("bank_partitions_owned %d", partitions_owned_count(parts));
    if (f == NULL) return ST_OK;
    HEAD("bank_partition_lease_rounds_total", "counter", "Lease rounds run.");
    LINE("bank_partition_lease_rounds_total %" PRIu64, f->rounds);
    HEAD("bank_partition_lease_round_seconds_max", "gauge",
         "The longest lease round so far (renewals, members, takes and releases).");
    LINE("bank_partition_lease_round_seconds_max %.3f", (double)f->max_round_ms / 1000.0);
    HEAD("bank_partition_lease_renewal_seconds_max", "gauge",
         "The longest renewal of the leases held so far (a lease not renewed within half its "
         "time to live is given up).");
    LINE("bank_partition_lease_renewal_seconds_max %.3f", (double)f->max_renew_ms / 1000.0);
    return ST_OK;
}
