/*
 * Coupons (선착순 쿠폰 발급 / 보유 쿠폰 목록): a campaign, first-come-first-
 * served issue, and a user's coupons.
 *
 * Issue is exact in the database (one slot row per coupon, claimed with
 * SKIP LOCKED); once any child has seen a campaign sold out, shared memory
 * says so, and an issue for it costs one indexed read instead of a claim.
 *
 * In a coupon drop the cost of an issue is its transaction, so a child
 * batches them (ShopIssueBatch, shop_batch.h): the issues that arrive
 * while one batch runs form the next, and their leader claims them all in
 * one statement (shop_issue_coupons), holding one place of the write gate
 * and one pooled connection.  The batch answers what it can answer
 * exactly (OK, ALREADY_ISSUED, USER_NOT_FOUND); any other request, and
 * all of a batch whose statement failed, then issue alone, through
 * shop_issue_coupon, which gives every answer of the contract.  A batch
 * refused as a whole (BUSY, the database down) is every part's answer.  A request with an
 * Idempotency-Key always issues alone (its key is stored in its own
 * transaction), and so do all with ShopBusyWait 0.  The batcher is the
 * shop's, sized by its first server's ShopIssueBatch.
 */
#include <stdlib.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_routes.h"
#include "mod_shop_shm.h"
#include "mod_shop_tx.h"
#include "shop_batch.h"
#include "shop_validate.h"

typedef struct {
    apr_int64_t coupon_id;
} coupon_ctx;

/* GET /coupons/{couponId} */
int shop_coupons_get(shop_req *q)
{
    shop_lookup l = { .sql = SQL_COUPON_GET, .not_found = SHOP_E_COUPON_NOT_FOUND,
                      .cache_kind = SHOP_CACHE_COUPON };

    if (!shop_parse_id(q->params[0], &l.cache_id)) {
        return shop_send_problem(q->r, SHOP_E_COUPON_NOT_FOUND, NULL);
    }
    if (shop_cache_answer(q, SHOP_CACHE_COUPON, l.cache_id, &l.ticket)) {
        return OK;
    }
    l.params[0] = shop_i64(q->r->pool, l.cache_id);
    return shop_serve_lookup(q, &l);
}

/* POST /users/{userId}/coupons {"coupon_id"} */
static shop_dbrc issue_work(shop_req *q, void *ctx, shop_resp *out)
{
    coupon_ctx *c = ctx;
    const char *params[2] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->coupon_id)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_COUPON_ISSUE, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    rc = shop_resp_outcome(q, res, 201, out);
    if (out->err == SHOP_E_SOLD_OUT) {
        shop_soldout_mark(q->sc->site, c->coupon_id);
    }
    return rc;
}

/*
 * A campaign this shop has seen sold out: one cheap read says whether
 * SOLD_OUT is the answer, or an earlier one in the contract's order
 * (USER_NOT_FOUND, ALREADY_ISSUED, COUPON_NOT_ISSUABLE), which the full
 * issue then gives with its details.  No lock, no slot scan.
 */
static shop_dbrc sold_out_work(shop_req *q, void *ctx, shop_resp *out)
{
    coupon_ctx *c = ctx;
    const char *params[2] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->coupon_id)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_COUPON_PLAINLY_SOLD_OUT, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        shop_resp_err(out, q->r, SHOP_E_SOLD_OUT, NULL);
        return SHOP_DB_OK;
    }
    return issue_work(q, ctx, out);
}

/* A request's part in a batch: what it asks, and the leader's answer in
 * memory the leader allocates and the request frees (the leader's own
 * request may be gone before this one reads it). */
typedef struct {
    apr_int64_t user_id;
    apr_int64_t coupon_id;
    shop_dbrc rc;           /* the batch's */
    char *outcome;          /* NULL: no row for this part */
    char *detail;
} issue_part;

typedef struct {
    shop_batch_item **items;
    int n;
} issue_batch;

static const char *id_array(apr_pool_t *p, const issue_batch *b, int coupons)
{
    char *text = apr_palloc(p, (apr_size_t)b->n * 21 + 3), *at = text;
    int i;

    *at++ = '{';
    for (i = 0; i < b->n; i++) {
        const issue_part *part = b->items[i]->data;
        at += apr_snprintf(at, 22, "%s%" APR_INT64_T_FMT, i ? "," : "",
                           coupons ? part->coupon_id : part->user_id);
    }
    strcpy(at, "}");
    return text;
}

static shop_dbrc batch_work(shop_req *q, void *ctx, shop_resp *out)
{
    issue_batch *b = ctx;
    const char *params[2] = { id_array(q->r->pool, b, 0), id_array(q->r->pool, b, 1) };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_COUPON_ISSUE_BATCH, params, &res);
    int row;

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    for (row = 0; row < PQntuples(res); row++) {
        int i = atoi(PQgetvalue(res, row, 0)) - 1;
        issue_part *part = i >= 0 && i < b->n ? b->items[i]->data : NULL;

        if (part && part->outcome == NULL) {
            part->outcome = strdup(PQgetvalue(res, row, 1));
            part->detail = strdup(PQgetvalue(res, row, 2));
            if (part->outcome == NULL || part->detail == NULL) {
                free(part->outcome);        /* out of memory: it issues alone */
                free(part->detail);
                part->outcome = part->detail = NULL;
            }
        }
    }
    out->commit = 1;
    return SHOP_DB_OK;
}

/* The leader: the batch's statement, then every part answered, then the
 * lead handed on. */
static void lead_batch(shop_req *q, shop_batch *batch, shop_batch_item *mine)
{
    issue_batch b;
    shop_resp out;
    shop_dbrc rc;
    int i;

    b.items = apr_palloc(q->r->pool, sizeof(*b.items) * (apr_size_t)shop_batch_max(batch));
    b.n = shop_batch_take(batch, mine, b.items);
    rc = shop_run_quiet(q, batch_work, &b, &out);
    for (i = 0; i < b.n; i++) {
        ((issue_part *)b.items[i]->data)->rc = rc;
    }
    shop_batch_done(batch, b.items, b.n);
}

/*
 * The batch's answer for this part.  A part left UNDECIDED, and every part
 * of a batch that failed on an error of its own statement, issue alone.
 * A refusal every part shares (no turn at the write gate, the database
 * down or busy, the schema behind) is their answer as it is: they have
 * waited for it once, and the single issue would meet it again.
 */
static int answer_part(shop_req *q, coupon_ctx *c, issue_part *part)
{
    shop_resp out;
    shop_dbrc rc = part->rc;
    int alone = rc == SHOP_DB_FAIL || (rc == SHOP_DB_OK && (part->outcome == NULL
                                       || strcmp(part->outcome, "UNDECIDED") == 0));

    memset(&out, 0, sizeof(out));
    if (rc == SHOP_DB_OK && !alone) {
        rc = shop_resp_outcome_text(q, part->outcome, part->detail, 0, 201, &out);
    }
    free(part->outcome);
    free(part->detail);
    return alone ? shop_run(q, issue_work, c) : shop_send_result(q, rc, &out);
}

static int issue_in_batch(shop_req *q, coupon_ctx *c, shop_batch *batch)
{
    issue_part part = { q->user_id, c->coupon_id, SHOP_DB_FAIL, NULL, NULL };
    shop_batch_item it;

    memset(&it, 0, sizeof(it));
    it.data = &part;
    switch (shop_batch_join(batch, &it, q->sc->busy_wait, q->r->pool)) {
    case SHOP_BATCH_LEAD:
        lead_batch(q, batch, &it);
        break;
    case SHOP_BATCH_TIMEOUT:
        return shop_send_result(q, SHOP_DB_FULL, NULL);
    case SHOP_BATCH_DONE:
        break;
    }
    return answer_part(q, c, &part);
}

void shop_coupons_child_init(apr_pool_t *pchild)
{
    apr_array_header_t *sites = shop_sites();
    int i;

    for (i = 0; sites && i < sites->nelts; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        const shop_srv_cfg *sc = ap_get_module_config(site->s->module_config, &shop_module);

        if (sc->issue_batch > 1
            && shop_batch_create(&site->issues, sc->issue_batch, pchild) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, site->s,
                         SHOPLOGNO(00047) "cannot create the coupon issue batcher");
            site->issues = NULL;        /* issues go one by one */
        }
    }
}

int shop_coupons_issue(shop_req *q)
{
    coupon_ctx c;
    const char *detail = NULL;
    shop_err e = shop_json_int(q->r->pool, q->body, "coupon_id", 1, NULL,
                               &c.coupon_id, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    if (c.coupon_id < 1) {
        return shop_send_problem(q->r, SHOP_E_COUPON_NOT_FOUND, NULL);
    }
    /* A keyed retry must replay its first answer, so it takes the full path. */
    if (q->idem_key == NULL && shop_soldout_is(q->sc->site, c.coupon_id)) {
        return shop_run(q, sold_out_work, &c);
    }
    /* ShopBusyWait 0 refuses a write only when the gate is full; a queue
     * for a batch could not be waited in at all. */
    if (q->idem_key == NULL && q->sc->busy_wait > 0 && q->sc->site && q->sc->site->issues) {
        return issue_in_batch(q, &c, q->sc->site->issues);
    }
    return shop_run(q, issue_work, &c);
}

/* GET /users/{userId}/coupons */
int shop_coupons_list(shop_req *q)
{
    return shop_serve_user_page(q, SQL_USER_COUPONS);
}
