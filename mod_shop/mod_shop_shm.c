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
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <ap_slotmem.h>
#include <apr_atomic.h>

#include "mod_shop.h"
#include "mod_shop_shm.h"

#define SOLDOUT_SLOTS 4096      /* power of two */

/*
 * One slot of `size` bytes named `name`: the shape of every block here,
 * its content as `content` says (mod_shop_shm.h).  NULL on failure, which
 * the caller names.
 */
void *shop_shm_block(apr_pool_t *pconf, const char *name, apr_size_t size,
                     int content, apr_status_t *rv)
{
    const ap_slotmem_provider_t *slotmem = ap_lookup_provider(
        AP_SLOTMEM_PROVIDER_GROUP, "shm", AP_SLOTMEM_PROVIDER_VERSION);
    ap_slotmem_instance_t *mem;
    void *base = NULL;

    *rv = slotmem ? slotmem->create(&mem, name, size, 1,
                                    content == SHOP_SHM_PERSISTED ? AP_SLOTMEM_TYPE_PERSIST
                                                                  : 0, pconf)
                  : APR_ENOTIMPL;
    if (*rv == APR_SUCCESS) {
        *rv = slotmem->dptr(mem, 0, &base);
    }
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    if (content != SHOP_SHM_PERSISTED) {
        memset(base, 0, size);
    }
    return base;
}

/* One sold-out table per shop (coupon ids are per database), and what the
 * children and the jobs process tell each other about its database. */
static apr_status_t site_create(apr_pool_t *pconf, server_rec *s, shop_site *site)
{
    apr_status_t rv;

    site->soldout = shop_shm_block(pconf, apr_pstrcat(pconf, "mod_shop_soldout_", site->key,
                                   NULL), SOLDOUT_SLOTS * sizeof(apr_uint64_t), SHOP_SHM_ZEROED,
                                   &rv);
    if (site->soldout == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     SHOPLOGNO(00024) "cannot create the sold-out shared memory");
        return rv;
    }
    site->dbstate = shop_shm_block(pconf, apr_pstrcat(pconf, "mod_shop_db_", site->key, NULL),
                                   sizeof(shop_dbstate), SHOP_SHM_ZEROED, &rv);
    if (site->dbstate == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     SHOPLOGNO(00025) "cannot create the database state shared memory");
    }
    return rv;
}

static apr_status_t children_create(apr_pool_t *pconf, server_rec *s);

apr_status_t shop_shm_create(apr_pool_t *pconf, server_rec *s)
{
    const ap_slotmem_provider_t *slotmem = ap_lookup_provider(
        AP_SLOTMEM_PROVIDER_GROUP, "shm", AP_SLOTMEM_PROVIDER_VERSION);
    apr_array_header_t *sites = shop_sites();
    apr_status_t rv;
    int i;

    if (slotmem == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, SHOPLOGNO(00026) "mod_slotmem_shm is "
                     "not loaded (LoadModule slotmem_shm_module)");
        return APR_ENOTIMPL;
    }
    rv = children_create(pconf, s);
    for (i = 0; i < sites->nelts && rv == APR_SUCCESS; i++) {
        rv = site_create(pconf, s, APR_ARRAY_IDX(sites, i, shop_site *));
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

/*
 * Every child's pooled connections in use, for the status views: a slot
 * per live child, claimed at child_init (a slot whose process is gone is
 * taken over), written by that child only.
 */
#define CHILD_SLOTS 64

static volatile shop_child_use *children;
static volatile shop_child_use *my_slot;

static apr_status_t children_create(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    children = shop_shm_block(pconf, "mod_shop_children",
                              CHILD_SLOTS * sizeof(shop_child_use), SHOP_SHM_ZEROED, &rv);
    if (children == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     SHOPLOGNO(00027) "cannot create the children's shared memory");
    }
    return rv;
}

static int process_gone(apr_uint32_t pid)
{
    return pid == 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

void shop_children_claim(void)
{
    apr_uint32_t me = (apr_uint32_t)getpid();
    int i;

    for (i = 0; children && i < CHILD_SLOTS; i++) {
        apr_uint32_t owner = apr_atomic_read32(&children[i].pid);
        if (process_gone(owner) && apr_atomic_cas32(&children[i].pid, me, owner) == owner) {
            apr_atomic_set32(&children[i].in_use, 0);
            apr_atomic_set32(&children[i].peak, 0);
            my_slot = &children[i];
            return;
        }
    }
}

/*
 * Called by every thread that borrows or returns a connection, with the
 * child's counter (the database layer's; passed in, so this file does not
 * depend back on it) and the value its own atomic step produced.  Threads
 * may get here in any order, so a plain store of one reading could leave an
 * older value last: in_use is brought to the counter by CAS until the two
 * agree, and peak only ever rises (a CAS max of the produced values, so a
 * moment's maximum is not missed), whoever comes last.
 */
void shop_children_note(volatile apr_uint32_t *counter, apr_uint32_t in_use)
{
    apr_uint32_t seen, now;

    if (my_slot == NULL) {
        return;
    }
    seen = apr_atomic_read32(&my_slot->peak);
    while (in_use > seen) {
        apr_uint32_t was = apr_atomic_cas32(&my_slot->peak, in_use, seen);
        if (was == seen) {
            break;
        }
        seen = was;
    }
    seen = apr_atomic_read32(&my_slot->in_use);
    while ((now = apr_atomic_read32(counter)) != seen) {
        apr_uint32_t was = apr_atomic_cas32(&my_slot->in_use, now, seen);
        seen = was == seen ? now : was;
    }
}

int shop_children_list(shop_child_use *out, int max)
{
    int i, n = 0;

    for (i = 0; children && i < CHILD_SLOTS && n < max; i++) {
        apr_uint32_t pid = apr_atomic_read32(&children[i].pid);
        if (!process_gone(pid)) {
            out[n].pid = pid;
            out[n].in_use = apr_atomic_read32(&children[i].in_use);
            out[n].peak = apr_atomic_read32(&children[i].peak);
            n++;
        }
    }
    return n;
}
