#include "bank/sync.h"

#include <dirent.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/compat.h"
#include "nats/nats_conn.h"

#define NS_PER_S 1000000000LL
#define SCHEMAS_MAX 256

typedef struct schema_file {
    char key[256]; /* the record's full name, e.g. nl.openweb.data.MoneyCreditedEvent */
    char *json;
} schema_file;

typedef struct schema_set {
    schema_file files[SCHEMAS_MAX];
    size_t n;
} schema_set;

static void schema_set_free(schema_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->files[i].json);
    s->n = 0;
}

static status add_schema(schema_set *s, const char *json, const char *origin)
{
    json_error_t err;
    json_t *j = json_loads(json, 0, &err);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *ns = json_string_value(json_object_get(j, "namespace"));
    status st = ST_OK;
    if (!name)
        st = status_set(ST_INVALID, "%s: not a named Avro schema", origin);
    else if (s->n == SCHEMAS_MAX)
        st = status_set(ST_LIMIT, "more than %d schemas", SCHEMAS_MAX);
    else {
        schema_file *f = &s->files[s->n];
        if (strchr(name, '.') || !ns)
            snprintf(f->key, sizeof f->key, "%s", name);
        else
            snprintf(f->key, sizeof f->key, "%s.%s", ns, name);
        f->json = strdup(json);
        if (!f->json)
            st = status_set(ST_NOMEM, "out of memory reading schemas");
        else
            s->n++;
    }
    json_decref(j);
    return st;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n < (1 << 24) && fseek(f, 0, SEEK_SET) == 0 &&
            (text = malloc((size_t)n + 1))) {
            if (fread(text, 1, (size_t)n, f) != (size_t)n) {
                free(text);
                text = NULL;
            } else {
                text[n] = '\0';
            }
        }
    }
    fclose(f);
    return text;
}

static status load_schemas(const char *dir, schema_set *out)
{
    if (!dir) {
        TRY(codec_init());
        for (size_t i = 0; i < codec_schema_count(); i++) {
            const codec_schema_info *info = codec_schema_at(i);
            if (info->current) TRY(add_schema(out, info->json, info->file));
        }
        return ST_OK;
    }
    DIR *d = opendir(dir);
    if (!d) return status_set(ST_INVALID, "cannot read the schema folder %s", dir);
    struct dirent *e;
    status st = ST_OK;
    while (st == ST_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".avsc") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *json = read_file(path);
        st = json ? add_schema(out, json, path) : status_set(ST_INVALID, "cannot read %s", path);
        free(json);
    }
    closedir(d);
    return st;
}

/* ---- streams ---- */

static int64_t get_int(json_t *o, const char *key, int64_t fallback)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

/* Appends "what: old -> new" to the change list when they differ. */
static void note(char *changes, size_t cap, const char *what, int64_t old, int64_t now)
{
    if (old == now) return;
    size_t used = strlen(changes);
    snprintf(changes + used, cap - used, "%s%s %lld -> %lld", used ? ", " : "", what,
             (long long)old, (long long)now);
}

static status sync_stream(jsCtx *js, json_t *def, int servers, bool dry_run)
{
    const char *name = json_string_value(json_object_get(def, "name"));
    json_t *subjects = json_object_get(def, "subjects");
    size_t n_subjects = json_array_size(subjects);
    if (!name || !n_subjects || n_subjects > 16)
        return status_set(ST_INVALID, "topology: a stream needs a name and 1 to 16 subjects");
    const char *subj[16];
    for (size_t i = 0; i < n_subjects; i++)
        if (!(subj[i] = json_string_value(json_array_get(subjects, i))))
            return status_set(ST_INVALID, "topology: stream %s has a subject that is not text",
                              name);
    int64_t wanted = get_int(def, "replicas", 1);
    int64_t replicas = wanted < servers ? wanted : servers;
    if (replicas < 1) replicas = 1;

    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subj;
    cfg.SubjectsLen = (int)n_subjects;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.MaxAge = get_int(def, "max_age_s", 0) * NS_PER_S;
    cfg.MaxBytes = get_int(def, "max_bytes", -1);
    cfg.MaxMsgSize = (int32_t)get_int(def, "max_msg_size", -1);
    cfg.Duplicates = get_int(def, "duplicate_window_s", 120) * NS_PER_S;
    cfg.AllowDirect = true;
    cfg.DenyDelete = true;
    cfg.DenyPurge = true;

    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(&si, js, name, NULL, &jerr);
    if (ns == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        printf("%s stream %s (%s, %lld replica%s%s)\n", dry_run ? "would create" : "created", name,
               subj[0], (long long)replicas, replicas == 1 ? "" : "s",
               replicas < wanted ? ", capped at the number of servers" : "");
        if (dry_run) return ST_OK;
        TRY(nats_conn_status(js_AddStream(&si, js, &cfg, NULL, &jerr), "creating a stream"));
        jsStreamInfo_Destroy(si);
        return ST_OK;
    }
    TRY(nats_conn_status(ns, "reading stream info"));
    char changes[512] = "";
    const jsStreamConfig *old = si->Config;
    note(changes, sizeof changes, "replicas", old->Replicas, cfg.Replicas);
    note(changes, sizeof changes, "max_age_s", old->MaxAge / NS_PER_S, cfg.MaxAge / NS_PER_S);
    note(changes, sizeof changes, "max_bytes", old->MaxBytes, cfg.MaxBytes);
    note(changes, sizeof changes, "max_msg_size", old->MaxMsgSize, cfg.MaxMsgSize);
    note(changes, sizeof changes, "duplicate_window_s", old->Duplicates / NS_PER_S,
         cfg.Duplicates / NS_PER_S);
    bool same_subjects = old->SubjectsLen == (int)n_subjects;
    for (size_t i = 0; same_subjects && i < n_subjects; i++)
        same_subjects = !strcmp(old->Subjects[i], subj[i]);
    if (!same_subjects) {
        size_t used = strlen(changes);
        snprintf(changes + used, sizeof changes - used, "%ssubjects", used ? ", " : "");
    }
    jsStreamInfo_Destroy(si);
    if (!changes[0]) {
        printf("stream %s is up to date\n", name);
        return ST_OK;
    }
    printf("%s stream %s: %s\n", dry_run ? "would update" : "updated", name, changes);
    if (dry_run) return ST_OK;
    TRY(nats_conn_status(js_UpdateStream(&si, js, &cfg, NULL, &jerr), "updating a stream"));
    jsStreamInfo_Destroy(si);
    return ST_OK;
}

/* ---- schemas ---- */

/* Opens the schema bucket, creating it if missing (in a dry run *kv stays NULL then). */
static status open_bucket(jsCtx *js, json_t *def, int servers, bool dry_run, kvStore **kv)
{
    const char *bucket = json_string_value(json_object_get(def, "bucket"));
    if (!bucket) bucket = "BANK_SCHEMAS";
    if (js_KeyValue(kv, js, bucket) == NATS_OK) return ST_OK;
    *kv = NULL;
    if (dry_run) {
        printf("would create schema bucket %s\n", bucket);
        return ST_OK;
    }
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket;
    cfg.History = (uint8_t)get_int(def, "history", 64);
    int64_t replicas = get_int(def, "replicas", 1);
    cfg.Replicas = (int)(replicas < servers ? replicas : servers);
    cfg.StorageType = js_FileStorage;
    TRY(nats_conn_status(js_CreateKeyValue(kv, js, &cfg), "creating the schema bucket"));
    printf("created schema bucket %s\n", bucket);
    return ST_OK;
}

/* First pass: every change must be compatible; second pass (only then) writes. */
static status sync_schemas(kvStore *kv, const schema_set *set, bool dry_run)
{
    uint64_t revisions[SCHEMAS_MAX] = {0};
    int action[SCHEMAS_MAX] = {0}; /* 0 unchanged, 1 register, 2 update */
    for (size_t i = 0; i < set->n; i++) {
        const schema_file *f = &set->files[i];
        kvEntry *e = NULL;
        natsStatus ns = kv ? kvStore_Get(&e, kv, f->key) : NATS_NOT_FOUND;
        if (ns == NATS_NOT_FOUND) {
            action[i] = 1;
            continue;
        }
        TRY(nats_conn_status(ns, "reading a recorded schema"));
        const char *recorded = kvEntry_ValueString(e);
        revisions[i] = kvEntry_Revision(e);
        status st = ST_OK;
        if (strcmp(recorded, f->json) != 0) {
            action[i] = 2;
            st = avro_check_compatible(f->json, recorded);
        }
        kvEntry_Destroy(e);
        if (st != ST_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", status_message());
            return status_set(ST_INVALID,
                              "schema %s is not backward compatible with the recorded one: %s",
                              f->key, why);
        }
    }
    for (size_t i = 0; i < set->n; i++) {
        const schema_file *f = &set->files[i];
        if (!action[i]) continue;
        printf("%s schema %s\n",
               action[i] == 1 ? (dry_run ? "would register" : "registered")
                              : (dry_run ? "would update" : "updated"),
               f->key);
        if (dry_run) continue;
        uint64_t rev = 0;
        int len = (int)strlen(f->json);
        natsStatus ns = action[i] == 1
                            ? kvStore_Create(&rev, kv, f->key, f->json, len)
                            : kvStore_Update(&rev, kv, f->key, f->json, len, revisions[i]);
        TRY(nats_conn_status(ns, "recording a schema (changed by someone else meanwhile?)"));
    }
    size_t unchanged = 0;
    for (size_t i = 0; i < set->n; i++)
        if (!action[i]) unchanged++;
    if (unchanged) printf("%zu schema%s up to date\n", unchanged, unchanged == 1 ? "" : "s");
    return ST_OK;
}

status bank_sync(const sync_options *opt)
{
    char *text = read_file(opt->topology);
    if (!text) return status_set(ST_INVALID, "cannot read the topology %s", opt->topology);
    json_error_t err;
    json_t *topo = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!topo) return status_set(ST_INVALID, "%s:%d: %s", opt->topology, err.line, err.text);
    schema_set *schemas = calloc(1, sizeof *schemas);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kvStore *kv = NULL;
    status st =
        schemas ? load_schemas(opt->schemas_dir, schemas) : status_set(ST_NOMEM, "out of memory");
    if (st == ST_OK) st = nats_conn_connect(opt->servers, "bank-sync", 0, &nc);
    if (st == ST_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 10000;
        st = nats_conn_status(natsConnection_JetStream(&js, nc, &jo), "opening JetStream");
    }
    int servers = nc ? nats_conn_cluster_size(nc) : 1;
    json_t *streams = json_object_get(topo, "streams");
    size_t i;
    json_t *def;
    if (st == ST_OK && !json_is_array(streams))
        st = status_set(ST_INVALID, "%s has no \"streams\" list", opt->topology);
    json_array_foreach(streams, i, def)
    {
        if (st == ST_OK) st = sync_stream(js, def, servers, opt->dry_run);
    }
    json_t *registry = json_object_get(topo, "schema_registry");
    if (st == ST_OK) st = open_bucket(js, registry, servers, opt->dry_run, &kv);
    if (st == ST_OK) st = sync_schemas(kv, schemas, opt->dry_run);
    char why[512];
    snprintf(why, sizeof why, "%s", status_message());
    if (kv) kvStore_Destroy(kv);
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    if (schemas) schema_set_free(schemas);
    free(schemas);
    json_decref(topo);
    return st == ST_OK ? ST_OK : status_set(st, "%s", why);
}
