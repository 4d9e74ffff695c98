/*
 * Shared memory between the children, through the slotmem "shm" provider.
 *
 * The sold-out set: campaign ids that some child has seen sold out, so
 * every child can answer SOLD_OUT without a database round trip.  A
 * campaign never comes back from sold out (issued coupons are not
 * returned to the campaign), so the set only grows: a lock-free open-
 * addressing table of 64-bit ids, each slot claimed with one CAS.  When it
 * is full, lookups miss and issue falls back to the database, which is
 * exact anyway.  The set starts empty after every (graceful) restart.
 * Each shop (database) has its own set: coupon ids are per database.
 */
#include <ap_slotmem.h>
#include <apr_atomic.h>

#include "mod_shop.h"

#define SOLDOUT_SLOTS 4096      /* power of two */

/* One table per shop (coupon ids are per database), named after it. */
static apr_status_t soldout_create(apr_pool_t *pconf, server_rec *s,
                                   const ap_slotmem_provider_t *slotmem,
                                   shop_site *site)
{
    ap_slotmem_instance_t *mem;
    void *base = NULL;
    apr_status_t rv;

    /* One slot holding the whole table keeps it contiguous. */
    rv = slotmem->create(&mem, apr_pstrcat(pconf, "mod_shop_soldout_", site->key, NULL),
                         SOLDOUT_SLOTS * sizeof(apr_uint64_t), 1, 0, pconf);
    if (rv == APR_SUCCESS) {
        rv = slotmem->dptr(mem, 0, &base);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "mod_shop: cannot create the sold-out shared memory");
        return rv;
    }
    memset(base, 0, SOLDOUT_SLOTS * sizeof(apr_uint64_t));
    site->soldout = base;
    return APR_SUCCESS;
}

apr_status_t shop_shm_create(apr_pool_t *pconf, server_rec *s)
{
    const ap_slotmem_provider_t *slotmem = ap_lookup_provider(
        AP_SLOTMEM_PROVIDER_GROUP, "shm", AP_SLOTMEM_PROVIDER_VERSION);
    apr_array_header_t *sites = shop_sites();
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (slotmem == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_shop: mod_slotmem_shm is "
                     "not loaded (LoadModule slotmem_shm_module)");
        return APR_ENOTIMPL;
    }
    for (i = 0; i < sites->nelts && rv == APR_SUCCESS; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        rv = soldout_create(pconf, s, slotmem, site);
        if (rv == APR_SUCCESS) {
            rv = shop_popular_attach(pconf, s, site);
        }
    }
    return rv;
}

static apr_size_t soldout_home(apr_uint64_t id)
{
    return (apr_size_t)((id * 0x9E3779B97F4A7C15ULL) >> 52) & (SOLDOUT_SLOTS - 1);
}

int shop_soldout_is(const shop_site *site, apr_int64_t coupon_id)
{
    volatile apr_uint64_t *soldout = site ? site->soldout : NULL;
    apr_uint64_t id = (apr_uint64_t)coupon_id;
    apr_size_t i, at = soldout_home(id);

    if (soldout == NULL) {
        return 0;
    }
    for (i = 0; i < SOLDOUT_SLOTS; i++, at = (at + 1) & (SOLDOUT_SLOTS - 1)) {
        apr_uint64_t v = apr_atomic_read64(&soldout[at]);
        if (v == id) {
            return 1;
        }
        if (v == 0) {
            return 0;
        }
    }
    return 0;
}

void shop_soldout_mark(const shop_site *site, apr_int64_t coupon_id)
{
    volatile apr_uint64_t *soldout = site ? site->soldout : NULL;
    apr_uint64_t id = (apr_uint64_t)coupon_id;
    apr_size_t i, at = soldout_home(id);

    if (soldout == NULL) {
        return;
    }
    for (i = 0; i < SOLDOUT_SLOTS; i++, at = (at + 1) & (SOLDOUT_SLOTS - 1)) {
        apr_uint64_t v = apr_atomic_cas64(&soldout[at], id, 0);
        if (v == 0 || v == id) {
            return;
        }
    }
}

/* For the status views: how many campaigns this shop knows sold out. */
int shop_soldout_count(const shop_site *site)
{
    apr_size_t i;
    int n = 0;

    if (site == NULL || site->soldout == NULL) {
        return 0;
    }
    for (i = 0; i < SOLDOUT_SLOTS; i++) {
        n += apr_atomic_read64(&site->soldout[i]) != 0;
    }
    return n;
}
