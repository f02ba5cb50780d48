#include "store/jetstream_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "nats/nats_conn.h"

#define MOD "jetstream"

status js_stream_names(js_stream *s, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return status_set(ST_INVALID, "the jetstream store needs a name (user, bank, transfer)");
    size_t len = strlen(name);
    if (len > JS_NAME_MAX)
        return status_set(ST_INVALID, "store name '%s' is longer than %d characters", name,
                          JS_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok)
            return status_set(ST_INVALID,
                              "store name '%s' may hold only a-z, 0-9, '_' and '-' (it becomes a "
                              "stream and subject name)",
                              name);
        s->name[i] = c;
    }
    s->name[len] = '\0';
    memcpy(s->stream, "BANK_", 5);
    for (size_t i = 0; i < len; i++) {
        char c = s->name[i];
        s->stream[5 + i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c == '-' ? '_' : c);
    }
    s->stream[5 + len] = '\0';
    snprintf(s->prefix, sizeof s->prefix, "bank.%s.events.", s->name);
    snprintf(s->filter, sizeof s->filter, "bank.%s.events.>", s->name);
    return ST_OK;
}

status js_stream_subject_of(const js_stream *s, store_bytes key, char **out)
{
    static const char hex[] = "0123456789abcdef";
    size_t plen = strlen(s->prefix);
    char *subj = malloc(plen + key.len * 2 + 1);
    if (subj == NULL) return status_set(ST_NOMEM, "out of memory");
    memcpy(subj, s->prefix, plen);
    const unsigned char *k = key.data;
    for (size_t i = 0; i < key.len; i++) {
        subj[plen + 2 * i] = hex[k[i] >> 4];
        subj[plen + 2 * i + 1] = hex[k[i] & 15];
    }
    subj[plen + key.len * 2] = '\0';
    *out = subj;
    return ST_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool js_stream_key_of(const js_stream *s, const char *subject, unsigned char *out, size_t *len)
{
    size_t plen = strlen(s->prefix);
    if (subject == NULL || strncmp(subject, s->prefix, plen) != 0) return false;
    const char *h = subject + plen;
    size_t hl = strlen(h);
    if (hl == 0 || hl % 2 != 0 || hl / 2 > STORE_KEY_MAX) return false;
    for (size_t i = 0; i < hl / 2; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        if (a < 0 || b < 0) return false;
        out[i] = (unsigned char)(a << 4 | b);
    }
    *len = hl / 2;
    return true;
}

bool js_msg_header_u64(natsMsg *m, const char *name, uint64_t *out)
{
    const char *v = NULL;
    if (natsMsgHeader_Get(m, name, &v) != NATS_OK || v == NULL || v[0] < '0' || v[0] > '9')
        return false;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0') return false;
    *out = x;
    return true;
}

int64_t js_msg_time_ms(natsMsg *m, const jsMsgMetaData *md)
{
    uint64_t t = 0;
    if (js_msg_header_u64(m, JS_HDR_TIME, &t) && t <= INT64_MAX) return (int64_t)t;
    return md->Timestamp / 1000000;
}

/* One lookup (and creation when missing). *transient tells whether trying again may help. */
static status ensure_once(const js_stream *s, int replicas, jsStreamInfo **out, bool *transient)
{
    jsErrCode jerr = 0;
    natsStatus ns = js_GetStreamInfo(out, s->js, s->stream, NULL, &jerr);
    if (ns == NATS_OK) return ST_OK;
    *transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS;
    if (ns != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        return nats_conn_status(ns, "reading stream info");
    const char *subjects[] = {s->filter};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = s->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.AllowDirect = true;
    cfg.DenyDelete = true;
    cfg.DenyPurge = true;
    cfg.Duplicates = (int64_t)120 * 1000 * 1000 * 1000; /* 2 min dedup window, in ns */
    ns = js_AddStream(out, s->js, &cfg, NULL, &jerr);
    if (ns == NATS_OK) {
        LOG_INFO(MOD, "created stream %s (subjects %s, %d replica%s)", s->stream, s->filter,
                 replicas, replicas == 1 ? "" : "s");
        return ST_OK;
    }
    /* Another process may have created it at the same time; in a cluster its info can take a
     * moment to be served, so "name already in use" means: look again. */
    jsErrCode add_err = jerr;
    if (js_GetStreamInfo(out, s->js, s->stream, NULL, &jerr) == NATS_OK) return ST_OK;
    *transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ||
                 add_err == JSStreamNameExistErr || add_err == JSClusterNotAvailErr;
    return nats_conn_status(ns, "creating the stream");
}

static status check_subjects(const js_stream *s, const jsStreamInfo *si)
{
    for (int i = 0; si->Config != NULL && i < si->Config->SubjectsLen; i++) {
        const char *subj = si->Config->Subjects[i];
        if (strcmp(subj, s->filter) == 0 || strcmp(subj, ">") == 0 || strcmp(subj, "bank.>") == 0)
            return ST_OK;
    }
    return status_set(ST_INVALID, "stream %s exists but does not hold the subjects %s", s->stream,
                      s->filter);
}

status js_stream_ensure(const js_stream *s, int replicas, jsStreamInfo **out)
{
    *out = NULL;
    int64_t deadline = clock_mono_ms() + s->retry_ms;
    for (;;) {
        bool transient = false;
        status st = ensure_once(s, replicas, out, &transient);
        if (st != ST_OK && nats_conn_was_refused(s->nc))
            return status_set(ST_INVALID,
                              "the server refuses this user (NATS_USER) the JetStream API of "
                              "stream %s: permissions violation",
                              s->stream);
        if (st == ST_OK) {
            st = check_subjects(s, *out);
            if (st != ST_OK) {
                jsStreamInfo_Destroy(*out);
                *out = NULL;
            }
            return st;
        }
        if (!transient || clock_mono_ms() >= deadline) return st;
        LOG_WARN(MOD, "%s: %s; retrying", s->stream, status_message());
        clock_sleep_ms(250);
    }
}

status js_stream_follow(const js_stream *s, uint64_t from_seq, natsMsgHandler cb,
                        natsOnCompleteCB on_complete, void *closure, int64_t pending_bytes,
                        natsSubscription **out)
{
    int64_t deadline = clock_mono_ms() + s->retry_ms;
    for (int attempt = 0;; attempt++) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = s->stream;
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = from_seq;
        so.Config.Heartbeat = s->heartbeat_ms * 1000000;
        jsErrCode jerr = 0;
        natsSubscription *sub = NULL;
        natsStatus ns = js_Subscribe(&sub, s->js, s->filter, cb, closure, NULL, &so, &jerr);
        if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(sub, 65536, pending_bytes);
        if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(sub, on_complete, closure);
        if (ns == NATS_OK) {
            *out = sub;
            return ST_OK;
        }
        status st = nats_conn_status(ns, "creating an ordered consumer on the stream");
        if (sub != NULL) {
            /* Nothing was delivered yet: the handler has not run. */
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
        bool transient = ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS || jerr != 0;
        if (!transient || clock_mono_ms() >= deadline) return st;
        LOG_WARN(MOD, "%s: %s; retrying", s->stream, status_message());
        clock_sleep_ms(attempt < 5 ? 100 : 500);
    }
}

status js_stream_last_seq(const js_stream *s, store_bytes key, uint64_t *seq)
{
    char *subj = NULL;
    TRY(js_stream_subject_of(s, key, &subj));
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus ns = js_GetLastMsg(&m, s->js, s->stream, subj, NULL, &jerr);
    free(subj);
    *seq = 0;
    if (ns == NATS_OK) {
        *seq = natsMsg_GetSequence(m);
        natsMsg_Destroy(m);
        return ST_OK;
    }
    if (ns == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) return ST_OK;
    return nats_conn_status(ns, "reading the last event of a key");
}
