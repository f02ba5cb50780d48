/* deploy/nats/roles.conf on a real nats-server: each role's user can do its job through the
 * store and bus adapters (credentials from NATS_USER/NATS_PASSWORD), and only the command handlers
 * can append events. */
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

#include <nats/nats.h>

#include "../store/store_test_util.h"
#include "base/clock.h"
#include "bus/bus.h"
#include "nats/nats_conn.h"
#include "nats_test_server.h"
#include "store/store.h"

static nts_cluster server;

/* The password nats-server was given for `user` (its environment, set in main). */
static char password_buf[64], prefix_buf[64];

/* The connection options of the role `user` (its password, replies under _INBOX.<user>), also
 * installed as the process defaults, which the bus uses. */
static nats_conn_options as_user(const char *user)
{
    snprintf(password_buf, sizeof password_buf, "%s-secret", user);
    snprintf(prefix_buf, sizeof prefix_buf, "_INBOX.%s", user);
    nats_conn_options o = {.user = user, .password = password_buf, .inbox_prefix = prefix_buf};
    assert_int_equal(nats_conn_set_defaults(&o), ST_OK);
    return o;
}

static status open_store(const char *user, const char *name, store **out)
{
    nats_conn_options o = as_user(user);
    char url[600], dir[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    snprintf(dir, sizeof dir, "%s/index-%s", server.dir, user);
    /* Refused publishes and API calls are not answered: keep their waits short. */
    store_jetstream_options jo = {
        .index_dir = dir, .publish_wait_ms = 500, .append_timeout_ms = 1500};
    store_options so = {.nats = &o, .jetstream = &jo};
    return store_open_with(url, name, &so, out);
}

static status open_bus(const char *user, bus **out)
{
    as_user(user);
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    return bus_open(url, out);
}

static void only_command_handlers_append(void **state)
{
    (void)state;
    store *commands = NULL, *projector = NULL, *api = NULL;
    assert_int_equal(open_store("commands", "user", &commands), ST_OK);
    uint64_t first = append_one(commands, "alice", 0, "created");
    assert_int_equal(open_store("projector", "user", &projector), ST_OK);
    collector c;
    collector_init(&c);
    store_subscription *sub = NULL;
    assert_int_equal(store_subscribe(projector, 1, collector_cb, &c, &sub), ST_OK);
    assert_true(collector_wait(&c, 1));
    assert_int_equal(c.events[0].position, first);
    /* The projector's publish is refused by the server: no acknowledgement, nothing stored. */
    const char *one[] = {"forged"};
    status st = append_strs(projector, "alice", 1, one, 1, NULL, NULL);
    assert_int_equal(st, ST_INVALID);
    assert_non_null(strstr(status_message(), "permissions violation"));
    printf("# projector append refused: %s: %s\n", status_name(st), status_message());
    uint32_t n = 0;
    assert_int_equal(store_count(commands, tb("alice"), &n), ST_OK);
    assert_int_equal(n, 1);
    append_one(commands, "alice", 1, "second");
    assert_true(collector_wait(&c, 2));
    assert_string_equal(c.events[1].value, "second");
    store_subscription_close(sub);
    collector_free(&c);
    /* The API has no access to the streams at all. */
    assert_int_equal(open_store("api", "user", &api), ST_INVALID);
    assert_non_null(strstr(status_message(), "permissions violation"));
    assert_null(api);
    store_close(projector);
    store_close(commands);
}

static void answer_query(void *ctx, const message *req, bus_reply *reply)
{
    (void)ctx;
    message answer = {.type = MSG_QUERY_FAILED};
    answer.u.query_failed.id = req->u.find_user.id;
    answer.u.query_failed.query_name = req->type;
    MSG_SET(answer.u.query_failed.reason, "served by the projector");
    bus_answer(reply, &answer);
}

typedef struct got {
    pthread_mutex_t mu;
    int calls;
    status st;
    char reason[MSG_TEXT_MAX + 1];
} got;

static void on_answer(void *ctx, status st, const message *reply)
{
    got *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    g->st = st;
    if (reply && reply->type == MSG_QUERY_FAILED)
        snprintf(g->reason, sizeof g->reason, "%s", reply->u.query_failed.reason);
    pthread_mutex_unlock(&g->mu);
}

static int calls(got *g)
{
    pthread_mutex_lock(&g->mu);
    int n = g->calls;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static void api_queries_reach_the_projector(void **state)
{
    (void)state;
    bus *projector = NULL, *api = NULL;
    assert_int_equal(open_bus("projector", &projector), ST_OK);
    assert_int_equal(open_bus("api", &api), ST_OK);
    bus_subscription *s = NULL;
    assert_int_equal(
        bus_serve(projector, BUS_SUBJECT_USER_QUERIES, "projector", answer_query, NULL, &s), ST_OK);
    message q = {.type = MSG_FIND_USER_QUERY};
    q.u.find_user.id = uuid_v4();
    MSG_SET(q.u.find_user.username, "alice");
    got g = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(bus_request(api, BUS_SUBJECT_USER_QUERIES, &q, 10000, on_answer, &g), ST_OK);
    int64_t deadline = clock_mono_ms() + 30000;
    while (calls(&g) == 0 && clock_mono_ms() < deadline)
        clock_sleep_ms(2);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.st, ST_OK);
    assert_string_equal(g.reason, "served by the projector");
    bus_unsubscribe(s);
    bus_close(api);
    bus_close(projector);
}

/* No user may read another user's replies: the projector cannot subscribe to the API's inbox. */
static void replies_are_private(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    natsOptions *o = NULL;
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    assert_int_equal(natsOptions_SetURL(o, url), NATS_OK);
    assert_int_equal(natsOptions_SetUserInfo(o, "projector", "projector-secret"), NATS_OK);
    natsConnection *nc = NULL;
    assert_int_equal(natsConnection_Connect(&nc, o), NATS_OK);
    natsSubscription *own = NULL, *other = NULL;
    assert_int_equal(natsConnection_SubscribeSync(&own, nc, "_INBOX.projector.x"), NATS_OK);
    assert_int_equal(natsConnection_FlushTimeout(nc, 5000), NATS_OK);
    const char *text = NULL;
    assert_int_not_equal(natsConnection_GetLastError(nc, &text), NATS_NOT_PERMITTED);
    assert_int_equal(natsConnection_SubscribeSync(&other, nc, "_INBOX.api.>"), NATS_OK);
    natsConnection_FlushTimeout(nc, 5000);
    assert_int_equal(natsConnection_GetLastError(nc, &text), NATS_NOT_PERMITTED);
    assert_non_null(strstr(text, "_INBOX.api.>"));
    natsSubscription_Destroy(own);
    natsSubscription_Destroy(other);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
}

static void wrong_password_is_refused(void **state)
{
    (void)state;
    nats_conn_options o = {.user = "api", .password = "not-the-password"};
    assert_int_equal(nats_conn_set_defaults(&o), ST_OK);
    char url[600];
    snprintf(url, sizeof url, "nats://%s", server.servers);
    bus *b = NULL;
    status st = bus_open(url, &b);
    assert_int_not_equal(st, ST_OK);
    assert_null(b);
    printf("# wrong password: %s: %s\n", status_name(st), status_message());
}

int main(void)
{
    const char *src = getenv("SOURCE_DIR");
    char conf[1024];
    snprintf(conf, sizeof conf, "%s/deploy/nats/roles.conf", src ? src : ".");
    setenv("BANK_NATS_API_PASSWORD", "api-secret", 1);
    setenv("BANK_NATS_COMMANDS_PASSWORD", "commands-secret", 1);
    setenv("BANK_NATS_PROJECTOR_PASSWORD", "projector-secret", 1);
    setenv("BANK_NATS_SYNC_PASSWORD", "sync-secret", 1);
    setenv("BANK_NATS_SYS_PASSWORD", "sys-secret", 1);
    if (!nts_start_from_conf(&server, conf)) {
        fprintf(stderr, "FAILED: cannot start nats-server from %s\n", conf);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_command_handlers_append),
        cmocka_unit_test(api_queries_reach_the_projector),
        cmocka_unit_test(replies_are_private),
        cmocka_unit_test(wrong_password_is_refused),
    };
    int failed =
        cmocka_run_group_tests_name("nats roles (deploy/nats/roles.conf)", tests, NULL, NULL);
    nts_stop(&server);
    nats_Close();
    return failed;
}
