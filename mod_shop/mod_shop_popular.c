/*
 * Popular products: GET /products/popular is served from shared memory
 * that a job refreshes every ShopPopularRefresh, one block per shop.  The request
 * path touches no database and takes no lock (see shop_popular.h).
 *
 * The block is a persisted slotmem, so a restart (graceful or not) serves
 * the last ranking, with its true generated_at, until the first refresh.
 * While PostgreSQL is down the last good ranking stays.
 */

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_jobs.h"
#include "mod_shop_popular.h"
#include "mod_shop_routes.h"
#include "mod_shop_shm.h"
#include "shop_popular.h"

#define POPULAR_TICK apr_time_from_sec(1)

/* Products on sale only.  `sales` holds the lines of PAID orders (cancelled
 * ones leave it), keyed by paid_at: an index-only scan of the window, so a
 * refresh costs what the window holds (sql/migrations/003_sales.sql). */


/*
 * Several nodes (httpd instances, each with its own jobs process) may share
 * one database: the ranking is then computed once per interval for all of
 * them and stored in popular_snapshot (sql/migrations/006).  A node whose
 * own copy is due tries a transaction-scoped advisory lock (it works behind
 * a transaction-pooling PgBouncer, and is released by COMMIT or by a lost
 * connection); the holder computes and stores the ranking unless another
 * node stored one within the interval.  A node with nothing published yet
 * computes regardless (if it gets the lock): a new node answers with fresh
 * data at once.  On every tick each node copies a stored ranking newer
 * than its own into its shared memory, so all nodes serve the same body
 * within one tick of its computation.
 */


/* Only a row newer than the node's own copy travels. */


/* Computes the ranking as of `at` (the transaction's now()) and stores it;
 * inside the caller's transaction.  0 on failure. */
static int popular_compute(shop_job *job, apr_pool_t *p, const char *key,
                           apr_time_t at)
{
    const shop_srv_cfg *sc = job->sc;
    const char *params[2] = { shop_i64(p, sc->popular_window),
                              apr_itoa(p, sc->popular_top_n) };
    apr_time_t started = apr_time_now();
    PGresult *res = shop_job_query(job, SQL_JOB_POPULAR, params);
    shop_popular_item *items;
    const char *body, *store[2];
    int i, n;

    if (res == NULL) {
        return 0;
    }
    n = PQntuples(res);
    items = apr_pcalloc(p, (n ? n : 1) * sizeof(*items));
    for (i = 0; i < n; i++) {
        items[i].product_id = apr_atoi64(PQgetvalue(res, i, 0));
        items[i].name = apr_pstrdup(p, PQgetvalue(res, i, 1));
        items[i].price = apr_atoi64(PQgetvalue(res, i, 2));
        items[i].stock = apr_atoi64(PQgetvalue(res, i, 3));
        items[i].sold = apr_atoi64(PQgetvalue(res, i, 4));
    }
    PQclear(res);
    /* generated_at is when the data was read, not when it was published. */
    body = shop_popular_render(p, sc->popular_window, at, items, n);
    if (strlen(body) >= SHOP_POPULAR_BODY_MAX) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, job->s,
                     SHOPLOGNO(00019) "shop %s: popular ranking too large to publish",
                     job->site->name);
        return 0;
    }
    store[0] = key;
    store[1] = body;
    res = shop_job_query(job, SQL_JOB_POPULAR_STORE, store);
    PQclear(res);
    if (res != NULL) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     SHOPLOGNO(00020) "shop %s: popular ranking computed (%d items, %"
                     APR_TIME_T_FMT " us)", job->site->name, n, apr_time_now() - started);
    }
    return res != NULL;
}

/* The node's copy is due: compute it, unless another node is doing so or
 * did within the interval.  Leaves no transaction open. */
static void popular_refresh(shop_job *job, apr_pool_t *p, const char *key, int empty)
{
    const char *params[2] = { key, shop_i64(p, job->sc->popular_refresh) };
    PGresult *res;
    int locked, fresh, ok = 1;
    apr_time_t at;

    if (!shop_job_control(job, "BEGIN")) {
        return;
    }
    res = shop_job_query(job, SQL_JOB_POPULAR_LOCK, params);
    if (res == NULL) {
        shop_job_control(job, "ROLLBACK");
        return;
    }
    locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    fresh = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    at = apr_atoi64(PQgetvalue(res, 0, 2));
    PQclear(res);
    if (locked && (empty || !fresh)) {
        ok = popular_compute(job, p, key, at);
    }
    shop_job_control(job, ok ? "COMMIT" : "ROLLBACK");
}

/* Copies a stored ranking newer than the node's own into shared memory;
 * any stored one when the node's block holds no verified ranking (a torn
 * save, a writer that died), whatever its generated_at. */
static void popular_adopt(shop_job *job, apr_pool_t *p, const char *key)
{
    shop_popular_block *block = job->site->popular;
    apr_time_t mine = shop_popular_published_at(block);
    const char *params[2] = { key, shop_i64(p, mine) };
    PGresult *res = shop_job_query(job, SQL_JOB_POPULAR_ADOPT, params);

    /* SHOP_POPULAR_BUSY: another live process (the previous generation's
     * jobs) is publishing; `mine` stays behind, so the next tick adopts
     * the row again. */
    if (res && PQntuples(res) == 1
        && shop_popular_publish(block, PQgetvalue(res, 0, 1),
                                (apr_size_t)PQgetlength(res, 0, 1),
                                apr_atoi64(PQgetvalue(res, 0, 0)))
           == SHOP_POPULAR_TOO_LARGE) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, job->s,
                     SHOPLOGNO(00033) "shop %s: popular ranking too large to publish",
                     job->site->name);
    }
    PQclear(res);
}

static void popular_run(shop_job *job, apr_pool_t *p)
{
    shop_popular_block *block = job->site->popular;
    apr_time_t at = shop_popular_published_at(block);   /* 0: none verified */
    /* Nodes share a ranking when they agree on all that shapes and paces
     * it: a node refreshing hourly never serves one computed for a node
     * that refreshes every second. */
    const char *key = apr_psprintf(p, "w%" APR_INT64_T_FMT ":n%d:r%" APR_INT64_T_FMT,
                                   (apr_int64_t)job->sc->popular_window,
                                   job->sc->popular_top_n,
                                   (apr_int64_t)job->sc->popular_refresh);

    if (at == 0 || apr_time_now() - at >= job->sc->popular_refresh) {
        popular_refresh(job, p, key, at == 0);
    }
    popular_adopt(job, p, key);
}

/* The shop's block: a persisted slotmem named after its database, so a
 * restart finds its own ranking whatever the order of the servers. */
apr_status_t shop_popular_attach(apr_pool_t *pconf, server_rec *s, shop_site *site)
{
    apr_status_t rv;

    site->popular = shop_shm_block(pconf, apr_pstrcat(pconf, "mod_shop_popular_", site->key,
                                   NULL), sizeof(shop_popular_block), SHOP_SHM_PERSISTED, &rv);
    if (site->popular == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     SHOPLOGNO(00021) "cannot create the popular ranking memory");
        return rv;
    }
    shop_popular_recover(site->popular);
    return APR_SUCCESS;
}

void shop_popular_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job = shop_job_add(p, site, jobs, "popular", popular_run, NULL);

    /* Ticks several times per refresh interval, so a ranking is never
     * more than a quarter interval late (and a restart's new jobs process
     * refreshes a stale one at once). */
    job->interval = job->sc->popular_refresh / 4 < POPULAR_TICK
                    ? job->sc->popular_refresh / 4 : POPULAR_TICK;
}

/* GET /products/popular: a copy out of shared memory, nothing else.
 * shop_popular_read returns NULL when nothing was published yet, and also
 * when no consistent copy could be taken within its bounds (a refresh job
 * that died mid-write): either way the answer is the empty ranking, at once,
 * never a wait on the writer and never an error. */
int shop_products_popular(shop_req *q)
{
    const shop_popular_block *block = q->sc->site ? q->sc->site->popular : NULL;
    apr_size_t len = 0;
    apr_time_t at = 0;
    const char *body = block ? shop_popular_read(q->r->pool, block, &len, &at) : NULL;

    if (body == NULL) {
        body = shop_popular_render_empty(q->r->pool, q->sc->popular_window);
    }
    /* Caches keep it until the job replaces it, and revalidate after. */
    shop_http_max_age(q->r, shop_popular_max_age(at, q->sc->popular_refresh,
                                                  apr_time_now()));
    return shop_send_json(q->r, 200, body);
}

/* For the status view: when the ranking was generated, 0 if never. */
apr_time_t shop_popular_generated_at(const shop_site *site)
{
    const shop_popular_block *block = site ? site->popular : NULL;

    return block ? shop_popular_published_at(block) : 0;
}
