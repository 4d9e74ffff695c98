/*
 * Shared-memory read caches: rendered bodies of reads, so a repeated read
 * answers without a database round trip.  One table shape serves the
 * catalog (products, product list pages, coupon campaigns: on by default,
 * ShopCatalogCacheSize) and balances (opt-in, ShopReadCacheTTL).
 *
 * A table is one block of shared memory: a header, the version counters
 * and the entries, laid out by shop_cache_init for the block's size and
 * the longest body it is to hold.  The entries are in sets of
 * SHOP_CACHE_WAYS, a key's set chosen by a hash of the key; a fill for a
 * key whose set is full evicts the entry of that set filled longest ago.
 *
 * Freshness comes from versions: a key's version is the sum of counters
 * that only grow (one for every key, one for the key's kind, one for the
 * slot its hash picks among the version counters), and a write bumps the
 * narrowest that covers what it changed, after its commit and before its
 * response.  A reader takes the version *before* it reads the database and
 * files the body under it; an entry is served only while its key's version
 * is still the one it was filed under.  So a write is seen by every read
 * that starts after the write's response, in every process that maps the
 * table (read-your-writes across the children of one httpd; the catalog
 * sync job bumps them for writes made elsewhere).
 *
 * Age: an entry is never served once it is max_age old (the caller's
 * bound on what versions cannot see).  Past three quarters of max_age the
 * first reader to claim the entry's refresh reads the database again and
 * files a new body while the others are still served, so an entry read
 * all the time does not expire under its readers all at once.
 *
 * The jobs process may also keep entries fresh before their readers have
 * to: shop_cache_due lists the entries of a kind served since their fill
 * and older than a time, and it reads them again and files them with
 * shop_cache_put (the same version rule: taken before its read).  A hit
 * marks its entry once per fill, so an entry nobody reads is left to age.
 *
 * Each entry sits behind its own sequence counter (a seqlock): readers copy
 * without a lock and treat a torn copy as a miss; a filler takes the entry
 * by CAS of the counter to odd together with its pid, and a filler that
 * finds the counter odd skips the fill, unless the pid there names a
 * process that is gone (a filler that died mid-copy): it then resets the
 * entry to empty by CAS and fills it.
 *
 * httpd-free: the glue (mod_shop_cache.c) puts the tables in shared memory.
 */
#ifndef SHOP_CACHE_H
#define SHOP_CACHE_H

#include <apr_time.h>

#define SHOP_CACHE_WAYS 4
#define SHOP_CACHE_KINDS 8              /* key kinds 1..7; 0: every kind */

/* A key: its kind (1..7) in the top byte, an id below 2^56 under it. */
#define SHOP_CACHE_ID_MAX ((APR_INT64_C(1) << 56) - 1)
#define SHOP_CACHE_KEY(kind, id) (((apr_uint64_t)(kind) << 56) \
                                  | ((apr_uint64_t)(id) & (apr_uint64_t)SHOP_CACHE_ID_MAX))
#define SHOP_CACHE_KEY_KIND(key) ((unsigned)((key) >> 56))

/* An entry's state word, one 64-bit atomic: the counter (low 32 bits, odd
 * while being filled) and, above it, the body's length when the counter
 * is even (0: empty) or the filler's pid while it is odd.  One CAS takes
 * the entry and names its filler, so a filler that dies leaves its pid. */
#define SHOP_CACHE_SEQ(state)   ((apr_uint32_t)(state))
#define SHOP_CACHE_UPPER(state) ((apr_uint32_t)((state) >> 32))
#define SHOP_CACHE_STATE(upper, seq) (((apr_uint64_t)(upper) << 32) | (apr_uint32_t)(seq))

typedef struct {
    apr_uint64_t state;                 /* see SHOP_CACHE_STATE */
    apr_uint64_t key;
    apr_uint64_t version;               /* shop_cache_version() before the read */
    apr_time_t filled_at;               /* when that read started */
    apr_time_t refresh_claim;           /* a reader refreshing it since; 0: none */
    apr_uint64_t read_mark;             /* 1: served since its fill (shop_cache_due) */
    char body[];                        /* the table's body_max bytes */
} shop_cache_entry;

typedef struct shop_cache shop_cache;

typedef struct {
    apr_uint64_t hits, misses, fills, evictions;
    apr_uint64_t entries;               /* holding a body now */
    apr_uint64_t capacity;
} shop_cache_stats;

/* Lays a table out in a block of `bytes`, for bodies of at most body_max
 * bytes: a zeroed block, or one that held the same table (a restart: none
 * of its entries is served after this); NULL when it cannot hold one set. */
shop_cache *shop_cache_init(void *block, apr_size_t bytes, apr_size_t body_max);
apr_size_t shop_cache_body_max(const shop_cache *c);

/* The version to file a body under: take it before the database read. */
apr_uint64_t shop_cache_version(const shop_cache *c, apr_uint64_t key);

/* Copies the body for key into out (NUL-terminated) and returns its length,
 * or -1: none, a newer version, max_age old, torn, or this reader is the
 * one to refresh it (then it reads the database and fills). */
int shop_cache_get(shop_cache *c, apr_uint64_t key, apr_time_t now,
                   apr_interval_time_t max_age, char *out, apr_size_t out_size);

/* Files body under version, as read from filled_at on; skipped when too
 * long or the entry is busy (another live filler).  An entry left busy by
 * a dead filler is reset. */
void shop_cache_put(shop_cache *c, apr_uint64_t key, apr_uint64_t version,
                    apr_time_t filled_at, const char *body, apr_size_t len);

/* Up to max keys of kind whose entries were served since their fill and
 * were filled before filled_before: the ones worth reading again ahead of
 * their readers.  A scan of the whole table (the jobs process, a few
 * times a second). */
apr_size_t shop_cache_due(const shop_cache *c, unsigned kind, apr_time_t filled_before,
                          apr_uint64_t *keys, apr_size_t max);

/* After a write (its commit): the key's entry, every entry of a kind, or
 * every entry stops being served. */
void shop_cache_forget(shop_cache *c, apr_uint64_t key);
void shop_cache_forget_kind(shop_cache *c, unsigned kind);
void shop_cache_forget_all(shop_cache *c);

void shop_cache_stats_get(const shop_cache *c, shop_cache_stats *out);

/* Test seams: the n-th entry; and a hook a filler calls once the entry is
 * its own (odd), before it writes, in the filler's process (NULL in
 * production). */
shop_cache_entry *shop_cache_entry_at(shop_cache *c, apr_size_t n);
extern void (*shop_cache_filler_hook)(const shop_cache_entry *e);

#endif
