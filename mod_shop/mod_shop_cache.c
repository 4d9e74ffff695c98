/*
 * ShopReadCacheTTL: GET /products/{id} and GET /users/{id}/points answered
 * from shared memory when the same read was answered lately and nothing
 * this httpd wrote since could have changed it (shop_cache.h explains the
 * versions).  Off by default (TTL 0): nothing is allocated, every read goes
 * to the database.
 *
 * Who forgets what, after the commit and before the response:
 *  - a charge, a payment, a cancel: the user's balance;
 *  - an order: its products; a cancel and the expiry job: every product
 *    (they put back stock of products they do not name to the module);
 *  - PATCH /admin/products/{id}: that product.
 * Writes elsewhere (psql, another httpd on the same database) are seen
 * when the entry's TTL runs out.
 */
#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_http.h"
#include "mod_shop_shm.h"
#include "shop_cache.h"

static const char *const kind_names[SHOP_CACHE__KINDS] = { "products", "balances" };

typedef struct {
    shop_cache_kind kind;
    apr_int64_t id;             /* 0: every entry of the kind */
} cache_write;

apr_status_t shop_cache_attach(apr_pool_t *pconf, server_rec *s, shop_site *site)
{
    const shop_srv_cfg *sc = ap_get_module_config(site->s->module_config, &shop_module);
    apr_status_t rv = APR_SUCCESS;
    int kind;

    for (kind = 0; kind < SHOP_CACHE__KINDS && sc->read_cache_ttl > 0; kind++) {
        site->cache[kind] = shop_shm_block(pconf, apr_pstrcat(pconf, "mod_shop_cache_",
                                           kind_names[kind], "_", site->key, NULL),
                                           sizeof(shop_cache_table), 0, &rv);
        if (site->cache[kind] == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         SHOPLOGNO(00038) "cannot create the read cache shared memory (%s)",
                         kind_names[kind]);
            return rv;
        }
    }
    return rv;
}

static shop_cache_table *table_of(const shop_req *q, shop_cache_kind kind)
{
    const shop_site *site = q->sc->site;

    return site ? site->cache[kind] : NULL;
}

int shop_cache_answer(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                      apr_uint64_t *version)
{
    shop_cache_table *t = table_of(q, kind);
    char *body;

    if (t == NULL) {
        return 0;
    }
    *version = shop_cache_version(t, id);
    body = apr_palloc(q->r->pool, SHOP_CACHE_BODY_MAX + 1);
    if (shop_cache_get(t, id, apr_time_now(), q->sc->read_cache_ttl,
                       body, SHOP_CACHE_BODY_MAX + 1) < 0) {
        return 0;
    }
    apr_table_setn(q->r->headers_out, "X-Shop-Cache", "hit");
    shop_send_json(q->r, 200, body);
    return 1;
}

void shop_cache_fill(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                     apr_uint64_t version, const shop_resp *resp)
{
    shop_cache_table *t = table_of(q, kind);
    const char *body;

    if (t == NULL || resp->status != 200) {
        return;
    }
    body = shop_resp_body(q->r->pool, resp);
    shop_cache_put(t, id, version, apr_time_now(), body, strlen(body));
}

void shop_cache_note_write(shop_req *q, shop_cache_kind kind, apr_int64_t id)
{
    cache_write *w;

    if (table_of(q, kind) == NULL) {
        return;
    }
    if (q->cache_writes == NULL) {
        q->cache_writes = apr_array_make(q->r->pool, 4, sizeof(cache_write));
    }
    w = apr_array_push(q->cache_writes);
    w->kind = kind;
    w->id = id;
}

/* Whatever the outcome: a write that may have committed is forgotten. */
void shop_cache_forget_noted(shop_req *q)
{
    int i;

    for (i = 0; q->cache_writes && i < q->cache_writes->nelts; i++) {
        const cache_write *w = &APR_ARRAY_IDX(q->cache_writes, i, cache_write);
        shop_cache_table *t = table_of(q, w->kind);

        if (w->id == 0) {
            shop_cache_forget_all(t);
        }
        else {
            shop_cache_forget(t, w->id);
        }
    }
}

void shop_cache_forget_site(const shop_site *site, shop_cache_kind kind)
{
    if (site->cache[kind] != NULL) {
        shop_cache_forget_all(site->cache[kind]);
    }
}
