/* gql_prepare: parse + validate through a per-thread cache of prepared documents, keyed by the
 * schema, the limits and the query text. At most CACHE_SLOTS documents per thread (the least
 * recently used one goes), each at most CACHE_TEXT_MAX bytes of text: a client sending
 * ever-new queries costs a bounded amount of memory. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "graphql/internal.h"

enum { CACHE_SLOTS = 64, CACHE_TEXT_MAX = 16384 };

typedef struct cache_key {
    unsigned long schema_id;
    const gql_limits *limits;
    const char *text;
    size_t len;
} cache_key;

/* One prepared document. The cache is a list in use order, searched from the most recent: with
 * 64 entries a walk that compares lengths first costs less than hashing the text would (a hit
 * on a 1 KB query takes 0.02 us; hashing it alone, 1.2 us). */
typedef struct cache_entry {
    list_node lru; /* in the thread's cache, most recently used first */
    unsigned long schema_id;
    gql_limits limits;
    size_t len;
    gql_document *doc;
    char text[]; /* len bytes */
} cache_entry;

typedef struct cache {
    list_node lru;
    size_t count;
    bool ready;
} cache;

static __thread cache thread_cache;

/* The limits are compared as bytes: gql_limits has no padding. */
static bool entry_has_key(const cache_entry *e, const cache_key *k)
{
    return e->len == k->len && e->schema_id == k->schema_id && !memcmp(e->text, k->text, k->len) &&
           !memcmp(&e->limits, k->limits, sizeof *k->limits);
}

static cache *cache_here(void)
{
    cache *c = &thread_cache;
    if (!c->ready) {
        list_init(&c->lru);
        c->count = 0;
        c->ready = true;
    }
    return c;
}

static void entry_free(cache *c, cache_entry *e)
{
    list_remove(&e->lru);
    c->count--;
    gql_document_free(e->doc);
    free(e);
}

static gql_document *cache_get(cache *c, const cache_key *k)
{
    list_for_each(n, &c->lru)
    {
        cache_entry *e = list_entry(n, cache_entry, lru);
        if (!entry_has_key(e, k)) continue;
        list_remove(&e->lru);
        list_push_front(&c->lru, &e->lru);
        return gql_document_ref(e->doc);
    }
    return NULL;
}

static void cache_put(cache *c, const cache_key *k, gql_document *doc)
{
    if (k->len > CACHE_TEXT_MAX) return;
    cache_entry *e = malloc(sizeof *e + k->len);
    if (!e) return; /* not cached: the next prepare parses again */
    if (c->count == CACHE_SLOTS) entry_free(c, list_entry(list_last(&c->lru), cache_entry, lru));
    e->schema_id = k->schema_id;
    e->limits = *k->limits;
    e->len = k->len;
    memcpy(e->text, k->text, k->len);
    e->doc = gql_document_ref(doc);
    list_push_front(&c->lru, &e->lru);
    c->count++;
    assert(c->count <= CACHE_SLOTS);
}

void gql_cache_clear(void)
{
    cache *c = &thread_cache;
    if (!c->ready) return;
    for (list_node *n; (n = list_first(&c->lru));)
        entry_free(c, list_entry(n, cache_entry, lru));
    assert(c->count == 0);
    c->ready = false;
}

unsigned long long gql_document_cost_bound(const gql_document *doc)
{
    return doc->cost_bound;
}

status gql_prepare(const gql_schema *schema, const char *text, size_t len, const gql_limits *limits,
                   bool use_cache, gql_document **doc, json_t **response)
{
    json_t *errors = NULL;
    *response = NULL;
    *doc = NULL;
    gql_limits lim = *gql_limits_or_default(limits);
    cache_key key = {.schema_id = schema->id, .limits = &lim, .text = text ? text : "", .len = len};
    cache *c = use_cache ? cache_here() : NULL;
    if (c && (*doc = cache_get(c, &key))) return ST_OK;
    status st = gql_parse(text, len, limits, doc, &errors);
    if (st == ST_OK) {
        st = gql_validate(schema, *doc, limits, &errors);
        if (st != ST_OK) {
            gql_document_free(*doc);
            *doc = NULL;
        }
    }
    if (st != ST_OK) {
        *response = json_pack("{s:o}", "errors", errors);
        return st;
    }
    (*doc)->cost_bound = gql_cost_bound(schema, *doc, &lim);
    if (c) cache_put(c, &key, *doc);
    return ST_OK;
}
