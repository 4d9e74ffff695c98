/*
 * The popular-products ranking as it lives in shared memory: the rendered
 * response body behind a sequence counter (a seqlock).  One writer (the
 * refresh job) publishes; any number of readers copy it out without a
 * lock and retry if a write overlapped their copy.
 *
 * The writer may die half-way (its process killed between the two counter
 * stores), leaving the counter odd.  Neither side waits for it forever:
 *  - the next publish makes the counter odd from any state (seq | 1), so an
 *    odd counter left behind is simply taken over, and ends it even;
 *  - a reader gives up after SHOP_POPULAR_READ_TRIES attempts or
 *    SHOP_POPULAR_READ_BUDGET of wall time, whichever comes first, and
 *    returns NULL; the caller then answers from its fallback (the empty
 *    ranking).  A reader never returns a torn body.
 *
 * httpd-free: the glue (mod_shop_popular.c) puts this block in a slotmem.
 */
#ifndef SHOP_POPULAR_H
#define SHOP_POPULAR_H

#include <apr_pools.h>
#include <apr_time.h>

#define SHOP_POPULAR_BODY_MAX (128 * 1024)

typedef struct {
    apr_uint32_t seq;           /* odd while a write is in progress */
    apr_uint32_t len;           /* 0: nothing published yet */
    apr_time_t generated_at;
    char body[SHOP_POPULAR_BODY_MAX];
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
 * A reader's bounds.  A live writer holds the counter odd for the time of
 * one memcpy of at most SHOP_POPULAR_BODY_MAX (microseconds), plus however
 * long the scheduler keeps it off the CPU: on a loaded 2-core box that can
 * be a few scheduler periods, hence tens of milliseconds, not microseconds.
 * 50 ms covers that and keeps a request that meets a dead writer well under
 * any client timeout.  Every attempt made while the counter is odd yields
 * the CPU first, so the tries bound matters on an idle machine (where a
 * yield returns at once and a live writer would have finished long since),
 * the time bound on a busy one.
 */
#define SHOP_POPULAR_READ_TRIES  4096
#define SHOP_POPULAR_READ_BUDGET apr_time_from_msec(50)

/*
 * Writer side; returns 0 if the body does not fit.  Only one writer at a
 * time (the refresh job); a previous writer that died mid-write is taken
 * over: the counter goes to seq | 1 (unchanged if it was already odd), the
 * body is written, then the counter goes to that value + 1 (even), which
 * differs from every even value a reader can have started from.
 */
int shop_popular_publish(shop_popular_block *b, const char *body,
                         apr_size_t len, apr_time_t generated_at);

/*
 * Reader side: a consistent copy into p (NUL-terminated, *len and
 * *generated_at set), or NULL.  NULL means "no ranking to serve": nothing
 * was published yet, or no consistent copy could be taken within the bounds
 * above (a writer that died mid-write, or one preempted for longer than
 * the budget).  The caller MUST then answer from a safe fallback
 * (mod_shop_popular.c renders the empty ranking); NULL is never an error
 * to report to the client.  Never blocks: yields while a write is open.
 *
 * Once a reader has given up on an odd counter value, later reads that find
 * the block at that same odd value return NULL at once instead of spending
 * the budget again (per process; any change of the counter clears it).
 * A dead writer therefore costs one budget per process, not one per request.
 */
const char *shop_popular_read(apr_pool_t *p, const shop_popular_block *b,
                              apr_size_t *len, apr_time_t *generated_at);

/* The same with explicit bounds (tries >= 1, budget >= 0); for tests. */
const char *shop_popular_read_bounded(apr_pool_t *p, const shop_popular_block *b,
                                      apr_size_t *len, apr_time_t *generated_at,
                                      int tries, apr_interval_time_t budget);

/* Makes a block restored from disk safe: a torn write reads as empty. */
void shop_popular_recover(shop_popular_block *b);

#endif
