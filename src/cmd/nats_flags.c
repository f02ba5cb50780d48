#include "cmd/nats_flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#if BANK_WITH_NATS
#include "nats/nats_conn.h"
#endif

void nats_flags_init(nats_flags *f)
{
    memset(f, 0, sizeof *f);
    f->read_barrier = 1;
}

bool nats_flags_finish(nats_flags *f, const char *data_dir)
{
    /* A password never goes on a command line, where `ps` shows it. */
    const char *password = getenv("NATS_PASSWORD");
    f->conn.password = password && *password ? password : NULL;
    if (!f->index_dir) {
        snprintf(f->index_dir_buf, sizeof f->index_dir_buf, "%s/nats-index",
                 data_dir ? data_dir : "./data");
        f->index_dir = f->index_dir_buf;
    }
    f->store = (store_jetstream_options){.index_dir = f->index_dir,
                                         .replicas = (int)f->replicas,
                                         .append_workers = (int)f->append_workers,
                                         .publish_wait_ms = f->publish_wait_ms,
                                         .append_timeout_ms = f->append_timeout_ms,
                                         .heartbeat_ms = f->heartbeat_ms,
                                         .sync_timeout_ms = f->sync_timeout_ms,
                                         .local_reads = f->read_barrier == 0};
#if BANK_WITH_NATS
    nats_conn_options o = {.user = f->conn.user,
                           .password = f->conn.password,
                           .nkey = f->conn.nkey,
                           .nkey_seed_file = f->conn.nkey_seed_file,
                           .ca_file = f->conn.ca_file,
                           .cert_file = f->conn.cert_file,
                           .key_file = f->conn.key_file,
                           .inbox_prefix = f->conn.inbox_prefix};
    if (nats_conn_set_defaults(&o) != ST_OK) {
        fprintf(stderr, "error: %s\n", status_message());
        return false;
    }
#endif
    return true;
}
