#include "bank/aggregates.h"

#include <stdio.h>
#include <string.h>

#include "codec/codec.h"

store_bytes aggregate_key(const char *text)
{
    return (store_bytes){.data = text, .len = strlen(text)};
}

typedef status (*evolve_fn)(void *state, const message *event);

typedef struct load_ctx {
    void *state;
    evolve_fn evolve;
    const char *key;
} load_ctx;

static status apply_stored(void *arg, const store_event *ev)
{
    load_ctx *ctx = arg;
    message m;
    status st = codec_decode(ev->value.data, ev->value.len, &m);
    if (st == ST_OK) {
        st = ctx->evolve(ctx->state, &m);
        message_clear(&m);
    }
    if (st != ST_OK) {
        char why[256]; /* status_set must not read the message it writes */
        snprintf(why, sizeof why, "%s", status_message());
        return status_set(st, "stored event %u of '%s' is unusable: %s", ev->order, ctx->key, why);
    }
    return ST_OK;
}

static status load(store *s, const char *key, void *state, evolve_fn evolve, bool local)
{
    load_ctx ctx = {.state = state, .evolve = evolve, .key = key};
    return local ? store_read_local(s, aggregate_key(key), 0, apply_stored, &ctx)
                 : store_read(s, aggregate_key(key), 0, apply_stored, &ctx);
}

static status evolve_user(void *state, const message *event)
{
    return user_evolve(state, event);
}

static status evolve_bank_account(void *state, const message *event)
{
    return bank_account_evolve(state, event);
}

static status evolve_transfer(void *state, const message *event)
{
    return transfer_evolve(state, event);
}

status aggregate_load_user(store *s, const char *username, user_state *out)
{
    return load(s, username, out, evolve_user, false);
}

status aggregate_load_bank_account(store *s, const char *iban, bank_account_state *out)
{
    return load(s, iban, out, evolve_bank_account, false);
}

status aggregate_load_transfer(store *s, const uuid *id, transfer_state *out)
{
    char key[UUID_STR_LEN + 1];
    return load(s, uuid_format(id, key), out, evolve_transfer, false);
}

status aggregate_load_user_local(store *s, const char *username, user_state *out)
{
    return load(s, username, out, evolve_user, true);
}

status aggregate_load_bank_account_local(store *s, const char *iban, bank_account_state *out)
{
    return load(s, iban, out, evolve_bank_account, true);
}

status aggregate_load_transfer_local(store *s, const uuid *id, transfer_state *out)
{
    char key[UUID_STR_LEN + 1];
    return load(s, uuid_format(id, key), out, evolve_transfer, true);
}
