/*
 * The read cache's table: versions and seqlocked entries (see shop_cache.h).
 */
#include <string.h>

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
    apr_uint32_t before = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    apr_uint32_t len;
    apr_int64_t entry_id;
    apr_uint64_t version;
    apr_time_t filled_at;

    if (before & 1u) {
        return -1;
    }
    len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
    entry_id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
    version = __atomic_load_n(&e->version, __ATOMIC_RELAXED);
    filled_at = __atomic_load_n(&e->filled_at, __ATOMIC_RELAXED);
    if (len == 0 || len >= out_size || len > SHOP_CACHE_BODY_MAX || entry_id != id) {
        return -1;
    }
    memcpy(out, e->body, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != before) {
        return -1;                      /* a fill overlapped the copy */
    }
    if (version != shop_cache_version(t, id) || now < filled_at
        || now - filled_at >= ttl) {
        return -1;
    }
    out[len] = '\0';
    return (int)len;
}

void shop_cache_put(shop_cache_table *t, apr_int64_t id, apr_uint64_t version,
                    apr_time_t now, const char *body, apr_size_t len)
{
    shop_cache_entry *e = &t->entries[slot_of(id)];
    apr_uint32_t seen = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

    if (len == 0 || len > SHOP_CACHE_BODY_MAX || (seen & 1u)
        || !__atomic_compare_exchange_n(&e->seq, &seen, seen + 1u, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->len, (apr_uint32_t)len, __ATOMIC_RELAXED);
    __atomic_store_n(&e->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&e->version, version, __ATOMIC_RELAXED);
    __atomic_store_n(&e->filled_at, now, __ATOMIC_RELAXED);
    memcpy(e->body, body, len);
    __atomic_store_n(&e->seq, seen + 2u, __ATOMIC_RELEASE);
}

void shop_cache_forget(shop_cache_table *t, apr_int64_t id)
{
    __atomic_add_fetch(&t->versions[slot_of(id)], 1, __ATOMIC_ACQ_REL);
}

void shop_cache_forget_all(shop_cache_table *t)
{
    __atomic_add_fetch(&t->epoch, 1, __ATOMIC_ACQ_REL);
}
