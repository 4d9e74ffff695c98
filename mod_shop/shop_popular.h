/*
 * The popular-products ranking as it lives in shared memory: the rendered
 * response body behind a sequence counter (a seqlock).  One writer (the
 * refresh job) publishes; any number of readers copy it out without a
 * lock and retry if a write overlapped their copy.
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

/* Writer side; returns 0 if the body does not fit. */
int shop_popular_publish(shop_popular_block *b, const char *body,
                         apr_size_t len, apr_time_t generated_at);

/*
 * Reader side: a consistent copy into p, or NULL when nothing was
 * published.  Never blocks on the writer; yields while a write is open.
 */
const char *shop_popular_read(apr_pool_t *p, const shop_popular_block *b,
                              apr_size_t *len, apr_time_t *generated_at);

/* Makes a block restored from disk safe: a torn write reads as empty. */
void shop_popular_recover(shop_popular_block *b);

#endif
