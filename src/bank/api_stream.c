/* The bank's GraphQL API: stream_transactions. The API subscribes once to the transactions the
 * projector publishes and fans each one out, on the loop thread, to the subscribers whose filter
 * takes it (the same filter as transactions_by_iban's, domain/tx_filter.h). */
#include <stdlib.h>

#include "bank/api_internal.h"
#include "base/log.h"

#define HELD_MAX 256 /* transactions kept for a subscriber while its token is checked */

bool api_subscriber_matches(const subscriber *s, const transaction_happened_event *t)
{
    return tx_filter_matches(&s->filter, t->iban, t->changed_by, t->description);
}

/* Keeps `tx` for the subscribers whose token is being checked (private mode), to be sent once
 * it checked out. */
static void hold_for_authorizing(bank_api *api, const transaction_happened_event *tx)
{
    list_for_each(n, &api->authorizing)
    {
        subscriber *s = list_entry(n, subscriber, link);
        if (!api_subscriber_matches(s, tx)) continue;
        if (!s->held) s->held = malloc(HELD_MAX * sizeof *s->held);
        if (!s->held || s->n_held == HELD_MAX) {
            LOG_WARN("api", "transaction %d not kept for a subscriber being authorised",
                     (int)tx->transaction_id);
            continue;
        }
        s->held[s->n_held++] = *tx;
    }
}

void api_fan_out(bank_api *api, const transaction_happened_event *tx)
{
    list_for_each(n, &api->subscribers)
    {
        subscriber *s = list_entry(n, subscriber, link);
        if (!api_subscriber_matches(s, tx)) continue;
        if (gql_stream_push(s->stream, api_transaction_object(tx)) == ST_LIMIT)
            LOG_WARN("api", "a subscriber is too slow; transaction %d not queued for it",
                     (int)tx->transaction_id);
    }
    hold_for_authorizing(api, tx);
}

void api_subscriber_free(subscriber *s)
{
    if (list_linked(&s->link)) list_remove(&s->link);
    if (s->check) s->check->checked = NULL; /* its check ends into nothing */
    free(s->held);
    free(s);
}

static void on_stream_closed(gql_stream *stream, void *arg)
{
    gql_stream_end(stream, NULL);
    api_subscriber_free(arg);
}

gql_result api_resolve_stream_transactions(json_t *parent, json_t *args, void *context,
                                           const gql_info *info)
{
    bank_api *api = context;
    subscriber *s = calloc(1, sizeof *s);
    if (!s) return gql_error("out of memory");
    s->api = api;
    list_init(&s->link);
    const char *why = api_filter_from_args(args, &s->filter);
    if (why) {
        api_subscriber_free(s);
        return gql_error("%s", why);
    }
    s->stream = gql_stream_new(on_stream_closed, s);
    if (!s->stream) {
        api_subscriber_free(s);
        return gql_error("out of memory");
    }
    return api_subscriber_add(api, s);
}

void api_subscribers_end(bank_api *api)
{
    for (int i = 0; i < 2; i++) {
        list_node *list = i ? &api->authorizing : &api->subscribers;
        for (list_node *n; (n = list_first(list));) {
            subscriber *s = list_entry(n, subscriber, link);
            gql_stream_end(s->stream, NULL);
            api_subscriber_free(s);
        }
    }
}
