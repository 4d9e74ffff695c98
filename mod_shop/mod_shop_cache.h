/*
 * ShopReadCacheTTL (mod_shop_cache.c): products and balances answered
 * from shared memory.  The tables themselves: shop_cache.h.
 */
#ifndef MOD_SHOP_CACHE_H
#define MOD_SHOP_CACHE_H

#include "mod_shop.h"

/* A request and its response (mod_shop_http.h). */
typedef struct shop_req shop_req;
typedef struct shop_resp shop_resp;

/* post_config: a shop's tables in shared memory, when the TTL is set. */
apr_status_t shop_cache_attach(apr_pool_t *pconf, server_rec *s, shop_site *site);
/* 1: answered from the cache; else *version is what a fill is filed under. */
int shop_cache_answer(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                      apr_uint64_t *version);
void shop_cache_fill(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                     apr_uint64_t version, const shop_resp *resp);
/* id 0: every entry of the kind.  shop_run forgets them after its work. */
void shop_cache_note_write(shop_req *q, shop_cache_kind kind, apr_int64_t id);
void shop_cache_forget_noted(shop_req *q);
void shop_cache_forget_site(const shop_site *site, shop_cache_kind kind);

#endif
