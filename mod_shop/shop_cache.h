/*
 * The read cache (ShopReadCacheTTL): rendered bodies of single-row reads
 * (a product, a balance) in shared memory, so a repeated read answers
 * without a database round trip.
 *
 * Freshness comes from versions, not from time: every slot (id modulo
 * SHOP_CACHE_SLOTS) has a counter that a write of one of its ids bumps
 * after its commit and before its response, and the table has an epoch
 * bumped by writes that touch rows they cannot name one by one.  A reader
 * takes the version *before* it reads the database and files the body
 * under it; an entry is served only while its slot's version is still the
 * one it was filed under.  So a write through this shop is seen by every
 * read that starts after the write's response (read-your-writes, across
 * the children of one httpd).  The TTL bounds what versions cannot see:
 * writes outside this httpd (another node, psql).
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

#define SHOP_CACHE_SLOTS 16384
#define SHOP_CACHE_BODY_MAX 232         /* an entry is 256 bytes */

/* An entry's state word, one 64-bit atomic: the counter (low 32 bits, odd
 * while being filled) and, above it, the body's length when the counter
 * is even (0: empty) or the filler's pid while it is odd.  One CAS takes
 * the entry and names its filler, so a filler that dies leaves its pid. */
#define SHOP_CACHE_SEQ(state)   ((apr_uint32_t)(state))
#define SHOP_CACHE_UPPER(state) ((apr_uint32_t)((state) >> 32))
#define SHOP_CACHE_STATE(upper, seq) (((apr_uint64_t)(upper) << 32) | (apr_uint32_t)(seq))

typedef struct {
    apr_uint64_t state;                 /* see SHOP_CACHE_STATE */
    apr_int64_t id;
    apr_uint64_t version;               /* shop_cache_version() when read */
    apr_time_t filled_at;
    char body[SHOP_CACHE_BODY_MAX];
} shop_cache_entry;

typedef struct shop_cache_table_s {
    apr_uint64_t epoch;
    apr_uint64_t versions[SHOP_CACHE_SLOTS];
    shop_cache_entry entries[SHOP_CACHE_SLOTS];
} shop_cache_table;

/* The version to file a body under: take it before the database read. */
apr_uint64_t shop_cache_version(const shop_cache_table *t, apr_int64_t id);

/* Copies the body for id into out (NUL-terminated) and returns its length,
 * or -1: no entry, another id, a newer version, older than ttl, torn. */
int shop_cache_get(const shop_cache_table *t, apr_int64_t id, apr_time_t now,
                   apr_interval_time_t ttl, char *out, apr_size_t out_size);

/* Files body under version; skipped when too long or the entry is busy
 * (another live filler).  An entry left busy by a dead filler is reset. */
void shop_cache_put(shop_cache_table *t, apr_int64_t id, apr_uint64_t version,
                    apr_time_t now, const char *body, apr_size_t len);

/* A write of id (after its commit): its slot's entries stop being served. */
void shop_cache_forget(shop_cache_table *t, apr_int64_t id);

/* A write of rows not named one by one: no entry is served any more. */
void shop_cache_forget_all(shop_cache_table *t);

/* Test seam: when set, a filler calls it once the entry is its own (odd),
 * before it writes; in the filler's process.  NULL in production. */
extern void (*shop_cache_filler_hook)(const shop_cache_entry *e);

#endif
