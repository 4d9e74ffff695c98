/*
 * The catalog refresh job: reads again, ahead of their readers, the
 * products this node served lately, so a product read all the time is
 * answered from memory all the time.
 *
 * Every entry lives ShopCatalogMaxAge at most (the bound on the stock a
 * page shows), so without this job each product read steadily costs a
 * database read per max age, by a request that waits for it while it holds
 * a worker thread and a pooled connection: with a thousand products read,
 * one request in ten.  Every quarter of ShopCatalogMaxAge this job lists
 * the product entries served since their fill and filled at least that
 * long ago (shop_cache_due), reads them in one statement, and files the
 * bodies under the versions taken before that read, as a request would:
 * a write in between leaves its entry unserved.  A product nobody reads
 * is left to age out; a product gone from sale is not returned and ages
 * out too (the change log has already forgotten it).
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_jobs.h"
#include "mod_shop_products.h"
#include "shop_json.h"

#define REFRESH_MAX 4096                    /* products per tick */
#define INTERVAL_MIN apr_time_from_msec(10)

typedef struct {
    apr_time_t retry_at;
} refresh_state;

static int by_key(const void *a, const void *b)
{
    apr_uint64_t x = *(const apr_uint64_t *)a, y = *(const apr_uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* "{id,id,...}": the keys' ids, a bigint[] literal. */
static const char *id_array(apr_pool_t *p, const apr_uint64_t *keys, apr_size_t n)
{
    apr_array_header_t *parts = apr_array_make(p, (int)n * 2 + 2, sizeof(char *));
    apr_size_t i;

    APR_ARRAY_PUSH(parts, const char *) = "{";
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(parts, const char *) = i ? "," : "";
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(p, "%" APR_UINT64_T_FMT,
                                                           keys[i] & SHOP_CACHE_ID_MAX);
    }
    APR_ARRAY_PUSH(parts, const char *) = "}";
    return apr_array_pstrcat(p, parts, 0);
}

/* Files each row's body under the version its key had before the read;
 * rows and keys are both in id order. */
static void file_rows(shop_cache *t, PGresult *res, const apr_uint64_t *keys,
                      const apr_uint64_t *versions, apr_size_t n, apr_time_t read_at,
                      apr_pool_t *p)
{
    apr_size_t k = 0;
    int row;

    for (row = 0; row < PQntuples(res); row++) {
        apr_uint64_t key = SHOP_CACHE_KEY(SHOP_CACHE_PRODUCT,
                                          apr_atoi64(PQgetvalue(res, row, 0)));
        const char *body;

        while (k < n && keys[k] < key) {
            k++;
        }
        if (k == n || keys[k] != key) {
            continue;
        }
        body = shop_json_dump(p, shop_json_own(p, shop_product_doc(res, row)));
        shop_cache_put(t, key, versions[k], read_at, body, strlen(body));
    }
}

static void refresh_run(shop_job *job, apr_pool_t *p)
{
    refresh_state *st = job->data;
    shop_cache *t = job->site->cache[SHOP_CACHE_CATALOG];
    apr_uint64_t *keys, *versions;
    const char *params[1];
    apr_time_t now = apr_time_now(), read_at;
    apr_size_t i, n;
    PGresult *res;

    if (now < st->retry_at) {
        return;
    }
    keys = apr_palloc(p, REFRESH_MAX * sizeof(*keys));
    n = shop_cache_due(t, SHOP_CACHE_PRODUCT, now - job->interval, keys, REFRESH_MAX);
    if (n == 0) {
        return;
    }
    qsort(keys, n, sizeof(*keys), by_key);
    versions = apr_palloc(p, n * sizeof(*versions));
    for (i = 0; i < n; i++) {
        versions[i] = shop_cache_version(t, keys[i]);
    }
    params[0] = id_array(p, keys, n);
    read_at = apr_time_now();
    if ((res = shop_job_query(job, SQL_JOB_PRODUCTS_REFRESH, params)) == NULL) {
        st->retry_at = apr_time_now() + SHOP_JOB_RETRY_AFTER_FAILURE;
        return;
    }
    file_rows(t, res, keys, versions, n, read_at, p);
    PQclear(res);
}

void shop_catalog_refresh_jobs(apr_pool_t *p, const shop_site *site,
                               apr_array_header_t *jobs)
{
    shop_job *job;

    if (site->cache[SHOP_CACHE_CATALOG] == NULL) {
        return;
    }
    job = shop_job_add(p, site, jobs, "catalog refresh", refresh_run,
                       apr_pcalloc(p, sizeof(refresh_state)));
    job->interval = job->sc->catalog_max_age / 4;
    if (job->interval < INTERVAL_MIN) {
        job->interval = INTERVAL_MIN;
    }
}
