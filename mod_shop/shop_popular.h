/*
 * The popular-products ranking as it lives in shared memory: two buffers
 * and an index.  The refresh job writes the buffer nobody reads, seals it
 * with a checksum and flips the index; any number of readers copy the
 * flipped one without a lock and check the copy (seqlock style, and the
 * checksum once per publication).  One writer at a time by ownership (its
 * pid in the block), never by elapsed time; a writer that stalls or dies
 * anywhere leaves the served ranking whole (see shop_popular_publish).
 *
 * httpd-free: the glue (mod_shop_popular.c) puts this block in a slotmem.
 */
#ifndef SHOP_POPULAR_H
#define SHOP_POPULAR_H

#include <apr_pools.h>
#include <apr_time.h>

#define SHOP_POPULAR_BODY_MAX (128 * 1024)

/* One published ranking: written whole while its counter is odd, then
 * sealed (counter even) with a checksum of what it holds. */
typedef struct {
    apr_uint32_t seq;           /* odd while being written; only grows */
    apr_uint32_t len;           /* 0: nothing (the empty ranking) */
    apr_time_t generated_at;
    apr_uint64_t sum;           /* shop_popular_sum(len, generated_at, body) */
    char body[SHOP_POPULAR_BODY_MAX];
} shop_popular_buffer;

typedef struct {
    apr_uint64_t published;     /* publishes so far: buf[published & 1] is
                                 * the one served; only grows */
    apr_uint64_t owner;         /* the writer at work: pid (low 32 bits) and
                                 * a per-process token (high 32); 0: none */
    shop_popular_buffer buf[2];
} shop_popular_block;
typedef struct {
    apr_int64_t product_id;
    const char *name;
    apr_int64_t price;
    apr_int64_t stock;
    apr_int64_t sold;
} shop_popular_item;

/* {"window_days":3,"generated_at":"...","items":[{"rank":1,...}]} */
const char *shop_popular_render(apr_pool_t *p, apr_interval_time_t window,
                                apr_time_t generated_at,
                                const shop_popular_item *items, int count);

/* The body before the first refresh: honest about having nothing. */
const char *shop_popular_render_empty(apr_pool_t *p, apr_interval_time_t window);

/*
 * A reader's bounds.  A reader only retries when writers lapped it (two
 * publishes during its copy, which the refresh's pace makes all but
 * impossible); it never waits for a writer, alive or dead.
 */
#define SHOP_POPULAR_READ_TRIES  64
#define SHOP_POPULAR_READ_BUDGET apr_time_from_msec(50)

/* What shop_popular_publish did. */
#define SHOP_POPULAR_PUBLISHED 1
#define SHOP_POPULAR_TOO_LARGE 0
#define SHOP_POPULAR_BUSY      (-1)    /* another live writer owns the block */

/*
 * Writer side.  One writer by construction: the writer first takes the
 * block's owner word by CAS (from 0, or from a writer whose process is
 * gone: kill(pid, 0) fails with ESRCH), and returns SHOP_POPULAR_BUSY if a
 * live process owns it (the caller retries on its next tick); nothing is
 * ever taken over because of elapsed time.  The owner writes the idle
 * buffer (odd counter, body, length, time, checksum, even counter), then
 * flips `published` to it with one release store, then lets go.  Readers
 * never look at the idle buffer, so a writer that stalls or dies at any
 * point leaves the served ranking whole; its successor rewrites the idle
 * buffer.  `published` and every buffer counter only grow.
 */
int shop_popular_publish(shop_popular_block *b, const char *body,
                         apr_size_t len, apr_time_t generated_at);

/*
 * Reader side: a copy of the served ranking into p (NUL-terminated, *len
 * and *generated_at set), or NULL: nothing published, the empty ranking,
 * a block that fails its checksum (a torn save restored from disk), or
 * writers lapped the reader more than `tries` times / for longer than
 * `budget`.  The caller MUST then answer from a safe fallback
 * (mod_shop_popular.c renders the empty ranking); NULL is never an error
 * to report to the client.  Never blocks.
 *
 * The copy is checked seqlock style (the buffer's counter before and after
 * the copy), and its checksum once per process and publication (a small
 * per-process memo), so the served body is one a writer sealed, whole.
 */
const char *shop_popular_read(apr_pool_t *p, const shop_popular_block *b,
                              apr_size_t *len, apr_time_t *generated_at);

/* The same with explicit bounds (tries >= 1, budget >= 0); for tests. */
const char *shop_popular_read_bounded(apr_pool_t *p, const shop_popular_block *b,
                                      apr_size_t *len, apr_time_t *generated_at,
                                      int tries, apr_interval_time_t budget);

/* generated_at of the served ranking if it is a verified, complete,
 * non-empty one; 0 otherwise (then the refresh republishes whatever the
 * newest snapshot's time). */
apr_time_t shop_popular_published_at(const shop_popular_block *b);

/*
 * Whole seconds until the ranking generated at `generated_at` is due for
 * its refresh (every `refresh`), 0 when it is due or there is none: the
 * max-age a cache may keep it for (Cache-Control), rounded down so that
 * no cache holds it past the refresh.
 */
apr_int64_t shop_popular_max_age(apr_time_t generated_at, apr_interval_time_t refresh,
                                 apr_time_t now);

/* FNV-1a (64 bits) of a buffer's length, time and body. */
apr_uint64_t shop_popular_sum(apr_uint32_t len, apr_time_t generated_at,
                              const char *body);

/*
 * Makes a block restored from disk (or found in a segment an older
 * generation still maps) safe: a verified block is left untouched, byte
 * for byte; anything else is replaced by the empty ranking through the
 * writer's path (ownership, idle buffer, flip), never by a memset, so a
 * live writer of an older generation is neither harmed nor taken over.
 */
void shop_popular_recover(shop_popular_block *b);

/*
 * Test seam: when set, the writer calls it after each of its steps, in the
 * writer's process, with the block.  NULL in production.
 */
typedef enum {
    SHOP_POPULAR_STEP_OWNED,        /* owner word taken */
    SHOP_POPULAR_STEP_MARKED,       /* idle buffer's counter odd */
    SHOP_POPULAR_STEP_HALF_COPIED,  /* half the body copied */
    SHOP_POPULAR_STEP_COPIED,       /* body, length and time stored */
    SHOP_POPULAR_STEP_SUMMED,       /* checksum stored */
    SHOP_POPULAR_STEP_SEALED,       /* idle buffer's counter even */
    SHOP_POPULAR_STEP_FLIPPED,      /* `published` points at it */
    SHOP_POPULAR__STEPS
} shop_popular_step;

extern void (*shop_popular_writer_hook)(shop_popular_step step,
                                        const shop_popular_block *b);

#endif
