/* The jetstream adapter on a 3-node nats-server cluster (routes on loopback, R3 stream): the stream
 * leader is killed (SIGKILL) while appends stream in; every acknowledged append must be readable
 * afterwards, at its position, from a fresh instance whose index is rebuilt from the survivors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include "../store/store_test_util.h"
#include "base/clock.h"
#include "nats_test_server.h"
#include "store/jetstream_store.h"
#include "store/store.h"

#define KEYS 10
#define MAX_ACKS 20000

typedef struct ack {
    int key;
    uint32_t order;
    uint64_t position;
    int64_t at_ms, took_ms; /* when it was answered (monotonic clock), how long it took */
} ack;

typedef struct appender {
    store *s;
    atomic_bool stop;
    atomic_int n_acks;
    ack acks[MAX_ACKS];
    int failures; /* appends whose outcome was an error (not acknowledged) */
} appender;

static void *appender_main(void *arg)
{
    appender *a = arg;
    uint32_t next[KEYS] = {0};
    for (int i = 0; !atomic_load(&a->stop) && atomic_load(&a->n_acks) < MAX_ACKS; i++) {
        int k = i % KEYS;
        char key[16], value[48];
        snprintf(key, sizeof key, "acct-%d", k);
        snprintf(value, sizeof value, "%s/%u", key, next[k]);
        store_bytes v = tb(value);
        store_appended out = {0};
        uint32_t cur = 0;
        int64_t t0 = clock_mono_ms();
        status st = store_append(a->s, tb(key), next[k], &v, 1, &out, &cur);
        int64_t t1 = clock_mono_ms();
        if (st == ST_OK) {
            int n = atomic_load(&a->n_acks);
            a->acks[n] = (ack){k, next[k], out.first_position, t1, t1 - t0};
            atomic_store(&a->n_acks, n + 1);
            next[k]++;
        } else {
            a->failures++;
            fprintf(stderr, "# append %s@%u: %s: %s\n", key, next[k], status_name(st),
                    status_message());
            /* After an unknown outcome the event may have landed: take the real count. */
            if (st == ST_CONFLICT) next[k] = cur;
        }
    }
    return NULL;
}

static bool wait_acks(appender *a, int n, int timeout_s)
{
    for (int waited = 0; waited < timeout_s * 100; waited++) {
        if (atomic_load(&a->n_acks) >= n) return true;
        usleep(10000);
    }
    return false;
}

static int stream_leader(const char *servers, const char *stream)
{
    char url[600];
    snprintf(url, sizeof url, "nats://%s", servers);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    int leader = -1;
    natsOptions *o = NULL;
    natsOptions_Create(&o);
    const char *urls[3];
    char u[3][64];
    char *copy = strdup(servers), *save = NULL;
    int n = 0;
    for (char *p = strtok_r(copy, ",", &save); p && n < 3; p = strtok_r(NULL, ",", &save)) {
        snprintf(u[n], sizeof u[n], "nats://%s", p);
        urls[n] = u[n];
        n++;
    }
    free(copy);
    natsOptions_SetServers(o, urls, n);
    if (natsConnection_Connect(&nc, o) == NATS_OK &&
        natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
        js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK && si->Cluster &&
        si->Cluster->Leader && si->Cluster->Leader[0] == 'n')
        leader = atoi(si->Cluster->Leader + 1) - 1;
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    return leader;
}

static void killing_the_leader_loses_no_acknowledged_append(void **state)
{
    (void)state;
    nts_cluster c;
    if (!nts_start(&c, 3)) fail_msg("cannot start a 3-node nats-server cluster");
    char url[700], dir[600];
    snprintf(url, sizeof url, "nats://%s/ha", c.servers);
    snprintf(dir, sizeof dir, "%s/index-writer", c.dir);
    store_jetstream_options jo = {
        .index_dir = dir, .replicas = 3, .publish_wait_ms = 1000, .append_timeout_ms = 30000};
    store_options so = {.jetstream = &jo};
    appender *a = calloc(1, sizeof *a);
    assert_non_null(a);
    status st = store_open_with(url, "ha", &so, &a->s);
    if (st != ST_OK) fail_msg("opening %s: %s", url, status_message());

    pthread_t t;
    pthread_create(&t, NULL, appender_main, a);
    assert_true(wait_acks(a, 300, 60));
    int leader = stream_leader(c.servers, "BANK_HA");
    assert_true(leader >= 0 && leader < 3);
    int before = atomic_load(&a->n_acks);
    int64_t t0 = clock_mono_ms();
    nts_stop_node(&c, leader, true);
    fprintf(stderr, "# killed the stream leader n%d after %d acknowledged appends\n", leader + 1,
            before);
    /* The survivors elect a new leader and appends go on. */
    bool resumed = wait_acks(a, before + 300, 90);
    int64_t t1 = clock_mono_ms();
    atomic_store(&a->stop, true);
    pthread_join(t, NULL);
    assert_true(resumed);
    int n = atomic_load(&a->n_acks);
    printf("# cluster: %d appends acknowledged (%d before the kill), %d failed; 300 more took "
           "%lld ms after the kill\n",
           n, before, a->failures, (long long)(t1 - t0));
    /* The stall: the longest wait for an answer after the kill, and the longest append. */
    int64_t gap = 0, longest = 0;
    for (int i = before; i < n; i++) {
        int64_t prev = i == before ? t0 : a->acks[i - 1].at_ms;
        if (a->acks[i].at_ms - prev > gap) gap = a->acks[i].at_ms - prev;
        if (a->acks[i].took_ms > longest) longest = a->acks[i].took_ms;
    }
    printf("# cluster: stall after the kill: %lld ms without an answer; the longest append took "
           "%lld ms (publish wait %lld ms)\n",
           (long long)gap, (long long)longest, (long long)jo.publish_wait_ms);
    store_close(a->s);

    /* A fresh instance, index rebuilt from the two survivors, holds every acknowledged append. */
    snprintf(dir, sizeof dir, "%s/index-checker", c.dir);
    store *check = NULL;
    st = store_open_with(url, "ha", &so, &check);
    if (st != ST_OK) fail_msg("reopening %s: %s", url, status_message());
    collector keys[KEYS];
    for (int k = 0; k < KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "acct-%d", k);
        collector_init(&keys[k]);
        assert_int_equal(store_read(check, tb(key), 0, collector_cb, &keys[k]), ST_OK);
    }
    for (int i = 0; i < n; i++) {
        const ack *ak = &a->acks[i];
        collector *kc = &keys[ak->key];
        if (ak->order >= kc->n)
            fail_msg("acknowledged append acct-%d@%u (position %llu) is missing", ak->key,
                     ak->order, (unsigned long long)ak->position);
        assert_int_equal(kc->events[ak->order].position, ak->position);
        char want[48];
        snprintf(want, sizeof want, "acct-%d/%u", ak->key, ak->order);
        assert_string_equal(kc->events[ak->order].value, want);
    }
    /* Nothing was stored twice: beyond the acknowledged appends, only failed ones may have landed.
     */
    size_t total = 0;
    for (int k = 0; k < KEYS; k++)
        total += keys[k].n;
    assert_true(total >= (size_t)n && total <= (size_t)n + (size_t)a->failures);
    for (int k = 0; k < KEYS; k++)
        collector_free(&keys[k]);

    /* On the R3 stream (two of three nodes up) a batch's events leave at once too: each is
     * stored directly after its predecessor, checked by every replica. */
    enum { BATCH = 20 };
    char text[BATCH][16];
    store_bytes v[BATCH];
    for (int i = 0; i < BATCH; i++) {
        snprintf(text[i], sizeof text[i], "b%d", i);
        v[i] = tb(text[i]);
    }
    assert_int_equal(store_append(check, tb("batch"), 0, v, BATCH, NULL, NULL), ST_OK);
    store_jetstream_stats stats;
    assert_int_equal(store_jetstream_stats_get(check, &stats), ST_OK);
    assert_int_equal(stats.sent_ahead, BATCH - 1);
    assert_int_equal(stats.stored_ahead, BATCH - 1);
    collector b;
    collector_init(&b);
    assert_int_equal(store_read(check, tb("batch"), 0, collector_cb, &b), ST_OK);
    assert_int_equal(b.n, BATCH);
    for (int i = 0; i < BATCH; i++)
        assert_string_equal(b.events[i].value, text[i]);
    collector_free(&b);
    store_close(check);
    free(a);
    nts_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(killing_the_leader_loses_no_acknowledged_append),
    };
    int failed = cmocka_run_group_tests_name("jetstream cluster", tests, NULL, NULL);
    nats_Close();
    return failed;
}
