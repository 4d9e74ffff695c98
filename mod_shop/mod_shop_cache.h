/*
 * The read caches (mod_shop_cache.c): the catalog (products, product list
 * pages, coupon campaigns; ShopCatalogCacheSize, on by default) and
 * balances (ShopReadCacheTTL, off by default), in shared memory.  The
 * tables themselves: shop_cache.h.  The catalog sync job that carries
 * changes made elsewhere into them: mod_shop_catalog.c.
 */
#ifndef MOD_SHOP_CACHE_H
#define MOD_SHOP_CACHE_H

#include <jansson.h>

#include "mod_shop.h"
#include "shop_cache.h"

/* A request and its response (mod_shop_http.h). */
typedef struct shop_req shop_req;
typedef struct shop_resp shop_resp;

/* What a read that missed files its body under: the key's version and
 * the time, both taken before the database read. */
typedef struct {
    apr_uint64_t version;
    apr_time_t read_at;
} shop_cache_ticket;

/* The catalog sync job's progress (apr_time_t and counters), in shared
 * memory: the job writes it, the status views read it. */
typedef struct shop_catalog_sync {
    apr_uint64_t last_seq;          /* the newest change applied */
    apr_uint64_t synced_at;         /* the last read of the change log */
    apr_uint64_t changes;           /* changes applied */
    apr_uint64_t flushes;           /* whole-catalog flushes */
    apr_uint64_t lag_last_us;       /* a change's commit to its application */
    apr_uint64_t lag_max_us;
} shop_catalog_sync;

/* post_config: a shop's tables in shared memory, those that are on. */
apr_status_t shop_cache_attach(apr_pool_t *pconf, server_rec *s, shop_site *site);
/* 1: answered from the cache; else *ticket is what a fill is filed under. */
int shop_cache_answer(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                      shop_cache_ticket *ticket);
void shop_cache_fill(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                     const shop_cache_ticket *ticket, const shop_resp *resp);
/* A write of id (0: of every one of its kind; a product's also changes
 * every page).  shop_run forgets them after its work, before the answer. */
void shop_cache_note_write(shop_req *q, shop_cache_kind kind, apr_int64_t id);
void shop_cache_forget_noted(shop_req *q);
/* The same for the jobs process; kind 0: everything. */
void shop_cache_forget_site(const shop_site *site, shop_cache_kind kind, apr_int64_t id);
/* The status views (mod_shop_status.c): /admin/status's "caches", and the
 * mod_status ?auto lines of a shop, keys ending in `shop`. */
json_t *shop_cache_status_doc(const shop_site *site);
void shop_cache_status_lines(request_rec *r, const shop_site *site, const char *shop);
/* 0 when that cache is off. */
int shop_cache_stats_of(const shop_site *site, shop_cache_table_id table,
                        shop_cache_stats *st);

#endif
