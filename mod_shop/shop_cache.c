/*
 * A read cache's table: sets of seqlocked entries and versions (see
 * shop_cache.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "shop_cache.h"

#define LINE 64

/* In lines of 64 bytes from the block's start (padded by hand: a block of
 * shared memory is only 8-byte aligned). */
struct shop_cache {
    apr_uint32_t nsets;
    apr_uint32_t stride;                /* bytes from one entry to the next */
    apr_uint32_t body_max;
    apr_uint32_t version_mask;          /* version counters - 1 (a power of two) */
    apr_uint64_t entries_at;            /* offset of the first entry */
    apr_uint64_t pad0[5];
    apr_uint64_t epochs[SHOP_CACHE_KINDS];
    /* Written on every read: a line of their own, away from the epochs. */
    apr_uint64_t hits, misses, fills, evictions;
    apr_uint64_t pad1[4];
    apr_uint64_t versions[];
};

static apr_size_t round_up(apr_size_t n, apr_size_t to)
{
    return (n + to - 1) / to * to;
}

shop_cache *shop_cache_init(void *block, apr_size_t bytes, apr_size_t body_max)
{
    shop_cache *c = block;
    apr_size_t stride = round_up(sizeof(shop_cache_entry) + body_max, LINE);
    apr_size_t n, versions = 1;

    if (block == NULL || bytes < sizeof(*c) + LINE + SHOP_CACHE_WAYS * (stride + 8)) {
        return NULL;
    }
    n = (bytes - sizeof(*c) - LINE) / (stride + sizeof(apr_uint64_t));
    n -= n % SHOP_CACHE_WAYS;
    while (versions * 2 <= n) {
        versions *= 2;
    }
    c->nsets = (apr_uint32_t)(n / SHOP_CACHE_WAYS);
    c->stride = (apr_uint32_t)stride;
    c->body_max = (apr_uint32_t)body_max;
    c->version_mask = (apr_uint32_t)(versions - 1);
    c->entries_at = round_up(sizeof(*c) + versions * sizeof(apr_uint64_t), LINE);
    /* A block that held this table before (a restart) keeps its entries,
     * but none is served any more. */
    shop_cache_forget_all(c);
    return c;
}

apr_size_t shop_cache_body_max(const shop_cache *c)
{
    return c->body_max;
}

/* A full mix (murmur3's finalizer): every bit of the key, the kind in
 * the top byte too, moves the set and the version slot. */
static apr_uint64_t hash_of(apr_uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    return key ^ (key >> 33);
}

shop_cache_entry *shop_cache_entry_at(shop_cache *c, apr_size_t n)
{
    return (shop_cache_entry *)((char *)c + c->entries_at + n * c->stride);
}

static shop_cache_entry *way_of(shop_cache *c, apr_uint64_t key, int way)
{
    apr_size_t set = (apr_size_t)((hash_of(key) >> 32) % c->nsets);

    return shop_cache_entry_at(c, set * SHOP_CACHE_WAYS + (apr_size_t)way);
}

/* Every counter in the sum only grows, so the sum changes with any of them. */
apr_uint64_t shop_cache_version(const shop_cache *c, apr_uint64_t key)
{
    apr_size_t slot = (apr_size_t)(hash_of(key) >> 8) & c->version_mask;

    return __atomic_load_n(&c->epochs[0], __ATOMIC_ACQUIRE)
           + __atomic_load_n(&c->epochs[SHOP_CACHE_KEY_KIND(key) % SHOP_CACHE_KINDS],
                             __ATOMIC_ACQUIRE)
           + __atomic_load_n(&c->versions[slot], __ATOMIC_ACQUIRE);
}

static void count(apr_uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* A consistent copy of e's body if it holds key: its length, else -1. */
static int copy_entry(const shop_cache_entry *e, apr_uint64_t key, char *out,
                      apr_size_t out_size, apr_uint64_t *version, apr_time_t *filled_at)
{
    apr_uint64_t before = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
    apr_uint32_t len = SHOP_CACHE_UPPER(before);

    if ((SHOP_CACHE_SEQ(before) & 1u) || len == 0 || len >= out_size
        || __atomic_load_n(&e->key, __ATOMIC_RELAXED) != key) {
        return -1;
    }
    *version = __atomic_load_n(&e->version, __ATOMIC_RELAXED);
    *filled_at = __atomic_load_n(&e->filled_at, __ATOMIC_RELAXED);
    memcpy(out, e->body, len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) != before) {
        return -1;                      /* a fill overlapped the copy */
    }
    out[len] = '\0';
    return (int)len;
}

/* Past 3/4 of max_age: whether this reader is the one to refresh e.  A
 * claim older than an eighth of max_age is a refresh that failed (the
 * database refused it): taken over, before the entry expires. */
static int claim_refresh(shop_cache_entry *e, apr_time_t now, apr_interval_time_t max_age)
{
    apr_time_t seen = __atomic_load_n(&e->refresh_claim, __ATOMIC_RELAXED);

    if (seen != 0 && now - seen < max_age / 8) {
        return 0;
    }
    return __atomic_compare_exchange_n(&e->refresh_claim, &seen, now, 0,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

int shop_cache_get(shop_cache *c, apr_uint64_t key, apr_time_t now,
                   apr_interval_time_t max_age, char *out, apr_size_t out_size)
{
    int way;

    for (way = 0; way < SHOP_CACHE_WAYS; way++) {
        shop_cache_entry *e = way_of(c, key, way);
        apr_uint64_t version;
        apr_time_t filled_at;
        int len = copy_entry(e, key, out, out_size, &version, &filled_at);

        if (len < 0) {
            continue;
        }
        if (version != shop_cache_version(c, key) || now < filled_at
            || now - filled_at >= max_age
            || (now - filled_at >= max_age / 4 * 3 && claim_refresh(e, now, max_age))) {
            break;
        }
        if (__atomic_load_n(&e->read_mark, __ATOMIC_RELAXED) == 0) {
            __atomic_store_n(&e->read_mark, 1, __ATOMIC_RELAXED);  /* once per fill */
        }
        count(&c->hits);
        return len;
    }
    count(&c->misses);
    return -1;
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

/* The way to fill for key: its own entry, else an empty one, else the one
 * filled longest ago (*evicts: it holds another key's body). */
static shop_cache_entry *way_to_fill(shop_cache *c, apr_uint64_t key, int *evicts)
{
    shop_cache_entry *oldest = NULL, *empty = NULL;
    int way;

    for (way = 0; way < SHOP_CACHE_WAYS; way++) {
        shop_cache_entry *e = way_of(c, key, way);
        apr_uint64_t state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

        if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) == key) {
            *evicts = 0;
            return e;
        }
        if (SHOP_CACHE_UPPER(state) == 0 && !(SHOP_CACHE_SEQ(state) & 1u)) {
            empty = empty ? empty : e;
        }
        else if (oldest == NULL || __atomic_load_n(&e->filled_at, __ATOMIC_RELAXED)
                                   < __atomic_load_n(&oldest->filled_at, __ATOMIC_RELAXED)) {
            oldest = e;
        }
    }
    *evicts = empty == NULL;
    return empty ? empty : oldest;
}

/* Takes e for filling (odd, naming this process); 0 if another has it. */
static int take_entry(shop_cache_entry *e, apr_uint32_t *seq_out)
{
    apr_uint64_t seen = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
    apr_uint32_t seq = SHOP_CACHE_SEQ(seen);

    if (seq & 1u) {
        /* Busy.  A dead filler's entry goes back to empty (the next even
         * counter, length 0); whoever wins that CAS, the entry is free. */
        if (!filler_gone(SHOP_CACHE_UPPER(seen))) {
            return 0;
        }
        seq++;
        if (!__atomic_compare_exchange_n(&e->state, &seen, SHOP_CACHE_STATE(0, seq), 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return 0;
        }
        seen = SHOP_CACHE_STATE(0, seq);
    }
    if (!__atomic_compare_exchange_n(&e->state, &seen,
                                     SHOP_CACHE_STATE((apr_uint32_t)getpid(), seq + 1u), 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        return 0;
    }
    *seq_out = seq;
    return 1;
}

void shop_cache_put(shop_cache *c, apr_uint64_t key, apr_uint64_t version,
                    apr_time_t filled_at, const char *body, apr_size_t len)
{
    int evicts = 0;
    shop_cache_entry *e;
    apr_uint32_t seq;

    if (len == 0 || len > c->body_max) {
        return;
    }
    e = way_to_fill(c, key, &evicts);
    if (!take_entry(e, &seq)) {
        return;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (shop_cache_filler_hook != NULL) {
        shop_cache_filler_hook(e);
    }
    __atomic_store_n(&e->key, key, __ATOMIC_RELAXED);
    __atomic_store_n(&e->version, version, __ATOMIC_RELAXED);
    __atomic_store_n(&e->filled_at, filled_at, __ATOMIC_RELAXED);
    __atomic_store_n(&e->refresh_claim, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->read_mark, 0, __ATOMIC_RELAXED);
    memcpy(e->body, body, len);
    __atomic_store_n(&e->state, SHOP_CACHE_STATE(len, seq + 2u), __ATOMIC_RELEASE);
    count(&c->fills);
    if (evicts) {
        count(&c->evictions);
    }
}

apr_size_t shop_cache_due(const shop_cache *c, unsigned kind, apr_time_t filled_before,
                          apr_uint64_t *keys, apr_size_t max)
{
    apr_size_t i, found = 0, n = (apr_size_t)c->nsets * SHOP_CACHE_WAYS;

    for (i = 0; i < n && found < max; i++) {
        const shop_cache_entry *e = shop_cache_entry_at((shop_cache *)c, i);
        apr_uint64_t state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
        apr_uint64_t key = __atomic_load_n(&e->key, __ATOMIC_RELAXED);

        if (SHOP_CACHE_UPPER(state) != 0 && !(SHOP_CACHE_SEQ(state) & 1u)
            && SHOP_CACHE_KEY_KIND(key) == kind
            && __atomic_load_n(&e->read_mark, __ATOMIC_RELAXED) != 0
            && __atomic_load_n(&e->filled_at, __ATOMIC_RELAXED) < filled_before) {
            keys[found++] = key;
        }
    }
    return found;
}

void shop_cache_forget(shop_cache *c, apr_uint64_t key)
{
    apr_size_t slot = (apr_size_t)(hash_of(key) >> 8) & c->version_mask;

    __atomic_add_fetch(&c->versions[slot], 1, __ATOMIC_ACQ_REL);
}

void shop_cache_forget_kind(shop_cache *c, unsigned kind)
{
    __atomic_add_fetch(&c->epochs[kind % SHOP_CACHE_KINDS], 1, __ATOMIC_ACQ_REL);
}

void shop_cache_forget_all(shop_cache *c)
{
    shop_cache_forget_kind(c, 0);
}

void shop_cache_stats_get(const shop_cache *c, shop_cache_stats *out)
{
    apr_size_t i, n = (apr_size_t)c->nsets * SHOP_CACHE_WAYS;

    out->hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
    out->fills = __atomic_load_n(&c->fills, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&c->evictions, __ATOMIC_RELAXED);
    out->capacity = n;
    out->entries = 0;
    for (i = 0; i < n; i++) {
        apr_uint64_t state = __atomic_load_n(
            &shop_cache_entry_at((shop_cache *)c, i)->state, __ATOMIC_RELAXED);
        out->entries += SHOP_CACHE_UPPER(state) != 0 && !(SHOP_CACHE_SEQ(state) & 1u);
    }
}
