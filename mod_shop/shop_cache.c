/*
 * The read cache's table: versions and seqlocked entries (see shop_cache.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "shop_cache.h"

static apr_size_t slot_of(apr_int64_t id)
{
    return (apr_size_t)((apr_uint64_t)id % SHOP_CACHE_SLOTS);
}

/* Epoch plus slot counter: both only grow, so the sum changes with either. */
apr_uint64_t shop_cache_version(const shop_cache_table *t, apr_int64_t id)
{
    return __atomic_load_n(&t->epoch, __ATOMIC_ACQUIRE)
           + __atomic_load_n(&t->versions[slot_of(id)], __ATOMIC_ACQUIRE);
}

int shop_cache_get(const shop_cache_table *t, apr_int64_t id, apr_time_t now,
                   apr_interval_time_t ttl, char *out, apr_size_t out_size)
{
    const shop_cache_entry *e = &t->entries[slot_of(id)];
    apr_uint64_t before = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
    apr_uint32_t len = SHOP_CACHE_UPPER(before);
    apr_int64_t entry_id;
    apr_uint64_t version;
    apr_time_t filled_at;

    if (SHOP_CACHE_SEQ(before) & 1u) {
        return -1;
    }
    entry_id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
    version = __atomic_load_n(&e->version, __ATOMIC_RELAXED);
    filled_at = __atomic_load_n(&e->filled_at, __ATOMIC_RELAXED);
    if (len == 0 || len >= out_size || len > SHOP_CACHE_BODY_MAX || entry_id != id) {
        return -1;
    }
    memcpy(out, e->body, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) != before) {
        return -1;                      /* a fill overlapped the copy */
    }
    if (version != shop_cache_version(t, id) || now < filled_at
        || now - filled_at >= ttl) {
        return -1;
    }
    out[len] = '\0';
    return (int)len;
}

void (*shop_cache_filler_hook)(const shop_cache_entry *e);

/* The filler named in an odd state is gone: its entry may be reset.  A
 * pid that cannot be a process names nobody; this process is alive. */
static int filler_gone(apr_uint32_t pid)
{
    if ((pid_t)pid <= 0) {
        return 1;
    }
    return (pid_t)pid != getpid() && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

void shop_cache_put(shop_cache_table *t, apr_int64_t id, apr_uint64_t version,
                    apr_time_t now, const char *body, apr_size_t len)
{
    shop_cache_entry *e = &t->entries[slot_of(id)];
    apr_uint64_t seen = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
    apr_uint32_t seq = SHOP_CACHE_SEQ(seen);

    if (len == 0 || len > SHOP_CACHE_BODY_MAX) {
        return;
    }
    if (seq & 1u) {
        /* Busy.  A dead filler's entry goes back to empty (the next even
         * counter, length 0); whoever wins that CAS, the entry is free. */
        if (!filler_gone(SHOP_CACHE_UPPER(seen))) {
            return;
        }
        seq++;
        if (!__atomic_compare_exchange_n(&e->state, &seen, SHOP_CACHE_STATE(0, seq), 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return;
        }
        seen = SHOP_CACHE_STATE(0, seq);
    }
    if (!__atomic_compare_exchange_n(&e->state, &seen,
                                     SHOP_CACHE_STATE((apr_uint32_t)getpid(), seq + 1u), 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (shop_cache_filler_hook != NULL) {
        shop_cache_filler_hook(e);
    }
    __atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&e->version, version, __ATOMIC_RELAXED);
    __atomic_store_n(&e->filled_at, now, __ATOMIC_RELAXED);
    memcpy(e->body, body, len);
    __atomic_store_n(&e->state, SHOP_CACHE_STATE(len, seq + 2u), __ATOMIC_RELEASE);
}

void shop_cache_forget(shop_cache_table *t, apr_int64_t id)
{
    __atomic_add_fetch(&t->versions[slot_of(id)], 1, __ATOMIC_ACQ_REL);
}

void shop_cache_forget_all(shop_cache_table *t)
{
    __atomic_add_fetch(&t->epoch, 1, __ATOMIC_ACQ_REL);
}
