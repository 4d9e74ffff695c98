/*
 * The read caches in shared memory (shop_cache.h explains a table):
 *  - catalog: GET /products/{id} and GET /coupons/{id}; pages: the pages
 *    of GET /products.  On by default (ShopCatalogCacheSize, a quarter of
 *    it for the pages); an entry is served ShopCatalogMaxAge at most.
 *  - balances: GET /users/{id}/points, only with ShopReadCacheTTL (a user
 *    who charges through one node and reads through another must never
 *    see an old balance by default); an entry is served that long at most.
 *
 * Who forgets what, after the commit and before the response:
 *  - PATCH and POST /admin/products: the product and every page;
 *  - a charge, a payment, a cancel: the user's balance;
 *  - a change made anywhere else (another node, psql, a migration): the
 *    catalog sync job (mod_shop_catalog.c), within ShopCatalogSync.
 * While the database is away (the breaker open) catalog entries are served
 * up to OUTAGE_MAX_AGE old: nothing can change the catalog meanwhile.
 *
 * Orders, cancels, expiry and coupon issues do not forget catalog entries:
 * the stock and remaining counts a page shows may lag by ShopCatalogMaxAge
 * (the contract allows 1 s), while the order and issue paths decide on the
 * real rows.  Forgetting a hot product on every order of it would send
 * its readers to the database exactly when everyone reads it.
 */
#include <apr_shm.h>
#include <http_protocol.h>

#include "mod_shop.h"
#include "mod_shop_breaker.h"
#include "mod_shop_cache.h"
#include "mod_shop_http.h"
#include "mod_shop_shm.h"

#define CATALOG_BODY_MAX 472        /* 512-byte entries: a product, a campaign */
#define PAGES_BODY_MAX 8152         /* 8 KB entries: a page of up to 100 products */
#define BALANCES_BODY_MAX 216       /* 256-byte entries */
#define BALANCES_BYTES (16384 * 264)
#define OUTAGE_MAX_AGE apr_time_from_sec(30)

typedef struct {
    const char *name;
    apr_size_t body_max;
} table_def;

static const table_def tables[SHOP_CACHE__TABLES] = {
    [SHOP_CACHE_CATALOG] = { "catalog", CATALOG_BODY_MAX },
    [SHOP_CACHE_PAGES] = { "pages", PAGES_BODY_MAX },
    [SHOP_CACHE_BALANCES] = { "balances", BALANCES_BODY_MAX },
};

typedef struct {
    shop_cache_kind kind;
    apr_int64_t id;             /* 0: every entry of the kind */
} cache_write;

static apr_size_t table_bytes(const shop_srv_cfg *sc, shop_cache_table_id t)
{
    switch (t) {
    case SHOP_CACHE_CATALOG: return (apr_size_t)(sc->catalog_cache_size / 4 * 3);
    case SHOP_CACHE_PAGES: return (apr_size_t)(sc->catalog_cache_size / 4);
    default: return sc->read_cache_ttl > 0 ? BALANCES_BYTES : 0;
    }
}

static void *no_memory(server_rec *s, const char *name, apr_status_t rv)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                 SHOPLOGNO(00038) "cannot create the read cache shared memory (%s)", name);
    return NULL;
}

/*
 * A table's memory: anonymous shared memory made once per shop, table and
 * size, kept in the process pool across generations (found again by its
 * userdata key).  Not a slotmem: mod_slotmem_shm zeroes its slots for each
 * generation, and zeroing 32 MB held the parent (which answers nothing
 * meanwhile) 0.5-0.9 s per graceful restart on the 2-core box; the kernel
 * zeroes fresh pages as they are first touched instead.  The layout is
 * written again each generation, which stops every old entry from being
 * served.  A size changed by a restart takes a new block; the old one is
 * the process's until it exits (a bounded leak, once per change).  So does
 * a module whose entry layout differs (an upgrade by graceful restart):
 * the old generation's children still read the block they know.
 */
static void *lasting_block(server_rec *s, const shop_site *site, const char *name,
                           apr_size_t bytes, apr_status_t *rv)
{
    apr_pool_t *pproc = s->process->pool;
    const char *key = apr_psprintf(pproc, "mod_shop_cache_%s_%s_%" APR_SIZE_T_FMT "_%"
                                   APR_SIZE_T_FMT, name, site->key, bytes,
                                   sizeof(shop_cache_entry));
    void *found = NULL;
    apr_shm_t *shm;

    apr_pool_userdata_get(&found, key, pproc);
    if (found != NULL) {
        return apr_shm_baseaddr_get(found);
    }
    if ((*rv = apr_shm_create(&shm, bytes, NULL, pproc)) != APR_SUCCESS) {
        return no_memory(s, name, *rv);
    }
    apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, pproc);
    return apr_shm_baseaddr_get(shm);
}

apr_status_t shop_cache_attach(apr_pool_t *pconf, server_rec *s, shop_site *site)
{
    const shop_srv_cfg *sc = ap_get_module_config(site->s->module_config, &shop_module);
    apr_status_t rv = APR_SUCCESS;
    int t;

    for (t = 0; t < SHOP_CACHE__TABLES; t++) {
        apr_size_t bytes = table_bytes(sc, t);
        void *mem;

        site->cache[t] = NULL;
        if (bytes == 0) {
            continue;
        }
        if ((mem = lasting_block(s, site, tables[t].name, bytes, &rv)) == NULL) {
            return rv;
        }
        /* a size too small for one set leaves that cache off */
        site->cache[t] = shop_cache_init(mem, bytes, tables[t].body_max);
    }
    site->catalog_sync = shop_shm_block(pconf, apr_pstrcat(pconf, "mod_shop_catalog_sync_",
                                        site->key, NULL), sizeof(shop_catalog_sync),
                                        SHOP_SHM_ZEROED, &rv);
    if (site->catalog_sync == NULL) {
        no_memory(s, "catalog_sync", rv);
    }
    return rv;
}

static shop_cache *table_of(const shop_site *site, shop_cache_kind kind)
{
    if (site == NULL) {
        return NULL;
    }
    switch (kind) {
    case SHOP_CACHE_PRODUCT:
    case SHOP_CACHE_COUPON: return site->cache[SHOP_CACHE_CATALOG];
    case SHOP_CACHE_PAGE: return site->cache[SHOP_CACHE_PAGES];
    default: return site->cache[SHOP_CACHE_BALANCES];
    }
}

/* While this child's breaker is open the database is away: nothing can
 * change the catalog there, and what the cache holds is the newest there
 * is, so it is served for OUTAGE_MAX_AGE rather than a 503 (a failover's
 * seconds, say).  Balances never: they are read-your-writes. */
static apr_interval_time_t max_age_of(const shop_req *q, shop_cache_kind kind)
{
    apr_uint64_t refused;

    if (kind == SHOP_CACHE_BALANCE) {
        return q->sc->read_cache_ttl;
    }
    if (shop_breaker_open_since(q->sc->site, &refused) != 0) {
        return OUTAGE_MAX_AGE;
    }
    return q->sc->catalog_max_age;
}

int shop_cache_answer(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                      shop_cache_ticket *ticket)
{
    shop_cache *t = table_of(q->sc->site, kind);
    apr_uint64_t key = SHOP_CACHE_KEY(kind, id);
    apr_size_t size;
    char *body;

    if (t == NULL || id < 0 || id > SHOP_CACHE_ID_MAX) {
        return 0;
    }
    ticket->version = shop_cache_version(t, key);
    ticket->read_at = apr_time_now();
    size = shop_cache_body_max(t) + 1;
    body = apr_palloc(q->r->pool, size);
    if (shop_cache_get(t, key, ticket->read_at, max_age_of(q, kind), body, size) < 0) {
        apr_table_setn(q->r->headers_out, "X-Shop-Cache", "miss");
        return 0;
    }
    apr_table_setn(q->r->headers_out, "X-Shop-Cache", "hit");
    shop_send_json(q->r, 200, body);
    return 1;
}

void shop_cache_fill(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                     const shop_cache_ticket *ticket, const shop_resp *resp)
{
    shop_cache *t = table_of(q->sc->site, kind);
    const char *body;

    if (t == NULL || resp->status != 200 || id < 0 || id > SHOP_CACHE_ID_MAX) {
        return;
    }
    body = shop_resp_body(q->r->pool, resp);
    shop_cache_put(t, SHOP_CACHE_KEY(kind, id), ticket->version, ticket->read_at,
                   body, strlen(body));
}

void shop_cache_note_write(shop_req *q, shop_cache_kind kind, apr_int64_t id)
{
    cache_write *w;

    if (table_of(q->sc->site, kind) == NULL) {
        return;
    }
    if (q->cache_writes == NULL) {
        q->cache_writes = apr_array_make(q->r->pool, 4, sizeof(cache_write));
    }
    w = apr_array_push(q->cache_writes);
    w->kind = kind;
    w->id = id;
}

static void forget_one(shop_cache *t, shop_cache_kind kind, apr_int64_t id)
{
    if (t == NULL) {
        return;
    }
    if (id == 0) {
        shop_cache_forget_kind(t, kind);
    }
    else {
        shop_cache_forget(t, SHOP_CACHE_KEY(kind, id));
    }
}

void shop_cache_forget_site(const shop_site *site, shop_cache_kind kind, apr_int64_t id)
{
    int t;

    if (site == NULL) {
        return;
    }
    if (kind == 0) {
        for (t = 0; t < SHOP_CACHE__TABLES; t++) {
            if (site->cache[t] != NULL) {
                shop_cache_forget_all(site->cache[t]);
            }
        }
        return;
    }
    forget_one(table_of(site, kind), kind, id);
    if (kind == SHOP_CACHE_PRODUCT) {       /* pages show products */
        forget_one(table_of(site, SHOP_CACHE_PAGE), SHOP_CACHE_PAGE, 0);
    }
}

/* Whatever the outcome: a write that may have committed is forgotten. */
void shop_cache_forget_noted(shop_req *q)
{
    int i;

    for (i = 0; q->cache_writes && i < q->cache_writes->nelts; i++) {
        const cache_write *w = &APR_ARRAY_IDX(q->cache_writes, i, cache_write);

        shop_cache_forget_site(q->sc->site, w->kind, w->id);
    }
}

int shop_cache_stats_of(const shop_site *site, shop_cache_table_id table,
                        shop_cache_stats *st)
{
    if (site == NULL || site->cache[table] == NULL) {
        memset(st, 0, sizeof(*st));
        return 0;
    }
    shop_cache_stats_get(site->cache[table], st);
    return 1;
}

/* ---- status ---------------------------------------------------------------- */

/* The catalog's two tables as one. */
static int catalog_stats(const shop_site *site, shop_cache_stats *sum)
{
    shop_cache_stats pages;
    int on = shop_cache_stats_of(site, SHOP_CACHE_CATALOG, sum);

    on |= shop_cache_stats_of(site, SHOP_CACHE_PAGES, &pages);
    sum->hits += pages.hits;
    sum->misses += pages.misses;
    sum->fills += pages.fills;
    sum->evictions += pages.evictions;
    sum->entries += pages.entries;
    sum->capacity += pages.capacity;
    return on;
}

static double hit_ratio(const shop_cache_stats *st)
{
    apr_uint64_t reads = st->hits + st->misses;

    return reads ? (double)st->hits / (double)reads : 0.0;
}

static json_t *table_doc(int on, const shop_cache_stats *st)
{
    if (!on) {
        return json_pack("{s:b}", "enabled", 0);
    }
    return json_pack("{s:b, s:I, s:I, s:f, s:I, s:I, s:I}", "enabled", 1,
                     "hits", (json_int_t)st->hits, "misses", (json_int_t)st->misses,
                     "hit_ratio", hit_ratio(st), "entries", (json_int_t)st->entries,
                     "capacity", (json_int_t)st->capacity,
                     "evictions", (json_int_t)st->evictions);
}

static apr_int64_t sync_age_ms(const shop_catalog_sync *sync)
{
    apr_uint64_t at = sync ? sync->synced_at : 0;

    return at ? (apr_int64_t)apr_time_as_msec(apr_time_now() - (apr_time_t)at) : -1;
}

json_t *shop_cache_status_doc(const shop_site *site)
{
    shop_cache_stats st, balances;
    int on = catalog_stats(site, &st);
    const shop_catalog_sync *sync = site ? site->catalog_sync : NULL;
    json_t *catalog = table_doc(on, &st);

    if (on && sync) {
        json_object_set_new(catalog, "sync", json_pack(
            "{s:I, s:I, s:I, s:I, s:f, s:f}",
            "last_change", (json_int_t)sync->last_seq,
            "synced_ms_ago", (json_int_t)sync_age_ms(sync),
            "changes_applied", (json_int_t)sync->changes,
            "flushes", (json_int_t)sync->flushes,
            "lag_ms_last", (double)sync->lag_last_us / 1000.0,
            "lag_ms_max", (double)sync->lag_max_us / 1000.0));
    }
    on = shop_cache_stats_of(site, SHOP_CACHE_BALANCES, &balances);
    return json_pack("{s:o, s:o}", "catalog", catalog, "balances", table_doc(on, &balances));
}

void shop_cache_status_lines(request_rec *r, const shop_site *site, const char *shop)
{
    shop_cache_stats st;
    const shop_catalog_sync *sync = site->catalog_sync;

    if (!catalog_stats(site, &st)) {
        return;
    }
    ap_rprintf(r, "ShopCatalogHits%s: %" APR_UINT64_T_FMT "\n"
               "ShopCatalogMisses%s: %" APR_UINT64_T_FMT "\n"
               "ShopCatalogHitRatio%s: %.4f\n"
               "ShopCatalogEntries%s: %" APR_UINT64_T_FMT "\n"
               "ShopCatalogEvictions%s: %" APR_UINT64_T_FMT "\n"
               "ShopCatalogSyncAgeMs%s: %" APR_INT64_T_FMT "\n"
               "ShopCatalogSyncLagMs%s: %.1f\n",
               shop, st.hits, shop, st.misses, shop, hit_ratio(&st), shop, st.entries,
               shop, st.evictions, shop, sync_age_ms(sync),
               shop, sync ? (double)sync->lag_last_us / 1000.0 : -1.0);
}
