/* The synchronizer (`bank sync`, for JetStream): creates or updates the event streams of
 * the topology file (schemas/topology.json) and records every Avro schema in a JetStream key-value
 * bucket, refusing a schema change that is not backward compatible (the new schema must read what
 * the recorded one wrote), with a message that names the field. It reports each change on stdout.
 * Runs on the calling thread. */
#ifndef BANK_SYNC_H
#define BANK_SYNC_H

#include <stdbool.h>

#include "base/status.h"

typedef struct sync_options {
    const char *servers;     /* "nats://h1:4222,h2:4222" */
    const char *topology;    /* path of the topology JSON */
    const char *schemas_dir; /* *.avsc files to register, or NULL for the ones built in */
    bool dry_run;            /* report what would change, change nothing */
} sync_options;

/* Brings the cluster in line with the topology and the schemas. ST_INVALID for a bad topology or
 * an incompatible schema (nothing of the schemas is then changed), ST_UNAVAILABLE when NATS cannot
 * be reached, ST_IO for other server errors. */
status bank_sync(const sync_options *opt);

#endif
