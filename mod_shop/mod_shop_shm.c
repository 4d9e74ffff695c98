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
 */
#include <ap_slotmem.h>
#include <apr_atomic.h>

#include "mod_shop.h"

#define SOLDOUT_SLOTS 4096      /* power of two */

static const ap_slotmem_provider_t *slotmem;
static ap_slotmem_instance_t *soldout_mem;
static volatile apr_uint64_t *soldout;     /* SOLDOUT_SLOTS ids, 0 = free */

apr_status_t shop_shm_create(apr_pool_t *pconf, server_rec *s)
{
    void *base = NULL;
    apr_status_t rv;

    slotmem = ap_lookup_provider(AP_SLOTMEM_PROVIDER_GROUP, "shm",
                                 AP_SLOTMEM_PROVIDER_VERSION);
    if (slotmem == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_shop: mod_slotmem_shm is "
                     "not loaded (LoadModule slotmem_shm_module)");
        return APR_ENOTIMPL;
    }
    /* One slot holding the whole table keeps it contiguous. */
    rv = slotmem->create(&soldout_mem, "mod_shop_soldout",
                         SOLDOUT_SLOTS * sizeof(apr_uint64_t), 1,
                         0, pconf);
    if (rv == APR_SUCCESS) {
        rv = slotmem->dptr(soldout_mem, 0, &base);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "mod_shop: cannot create the sold-out shared memory");
        return rv;
    }
    soldout = base;
    memset(base, 0, SOLDOUT_SLOTS * sizeof(apr_uint64_t));
    return APR_SUCCESS;
}

static apr_size_t soldout_home(apr_uint64_t id)
{
    return (apr_size_t)((id * 0x9E3779B97F4A7C15ULL) >> 52) & (SOLDOUT_SLOTS - 1);
}

int shop_soldout_is(apr_int64_t coupon_id)
{
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

void shop_soldout_mark(apr_int64_t coupon_id)
{
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
