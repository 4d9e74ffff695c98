/*
 * shop_run: the one way handlers touch the database, and the reads every
 * list and lookup shares (mod_shop_tx.c).
 */
#ifndef MOD_SHOP_TX_H
#define MOD_SHOP_TX_H

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_db.h"
#include "mod_shop_http.h"
#include "mod_shop_sql.h"

/*
 * One unit of work.  Returns the database outcome; the API outcome (a
 * success body or a domain error) goes into *out.
 */
typedef shop_dbrc (*shop_work_fn)(shop_req *q, void *ctx, shop_resp *out);

/* Autocommit statements, or one transaction when the request has an
 * Idempotency-Key (the key is claimed and stored with the work). */
int shop_run(shop_req *q, shop_work_fn work, void *ctx);

/* shop_run in two halves: the work (through the write gate, on a pooled
 * connection, retried), and its answer sent. */
shop_dbrc shop_run_quiet(shop_req *q, shop_work_fn work, void *ctx, shop_resp *out);
int shop_send_result(shop_req *q, shop_dbrc rc, const shop_resp *out);

/* ShopUserAuth remote-user: DECLINED when r->user may act for {userId},
 * else the answer sent (403, or 503 without a database). */
int shop_authorize(shop_req *q);

/* Serves a user-scoped list statement: see mod_shop_tx.c. */
int shop_serve_user_page(shop_req *q, shop_sql sql);

typedef struct {
    shop_sql sql;
    const char *params[2];
    shop_err not_found;
    int page;           /* rows of (id, json), one page, instead of one json */
    shop_cache_kind cache_kind;     /* 0: not cached; else filed under cache_id */
    apr_int64_t cache_id;
    shop_cache_ticket ticket;
} shop_lookup;

/* Serves a read of one resource: see mod_shop_tx.c. */
int shop_serve_lookup(shop_req *q, const shop_lookup *l);

#endif
