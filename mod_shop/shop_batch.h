/*
 * A batcher: callers that want the same kind of work done queue up, and
 * one of them (the leader) does the work of up to `max` of them at once,
 * while the others wait for their part of the result.
 *
 * mod_shop runs a child's first-come coupon issues this way (issue 20):
 * the requests that arrive while a batch runs form the next one, and one
 * transaction claims their coupons.  No timer: a batch is whatever queued
 * while the previous one ran, so a lone request goes at once, alone.
 *
 * A caller joins with its item and learns its turn: lead (take the next
 * batch, do its work, hand back with shop_batch_done), done (a leader did
 * its part), or timed out (no leader took it within its wait; it is out
 * of the queue and must do its work some other way).  An item a leader
 * took is waited for without a bound: the leader writes into it.  One
 * batch runs at a time; done hands the lead to the oldest queued item.
 *
 * httpd-free (APR threads only), unit-tested with real threads.
 */
#ifndef SHOP_BATCH_H
#define SHOP_BATCH_H

#include <apr_pools.h>
#include <apr_thread_cond.h>
#include <apr_time.h>

typedef struct shop_batch shop_batch;

typedef enum {
    SHOP_BATCH_LEAD,        /* take a batch, do it, shop_batch_done */
    SHOP_BATCH_DONE,        /* a leader did the item's work */
    SHOP_BATCH_TIMEOUT      /* no leader took it in time; it left the queue */
} shop_batch_turn;

typedef struct shop_batch_item shop_batch_item;
struct shop_batch_item {
    void *data;             /* the caller's: what to do, and the result */
    /* the batcher's: */
    int state;
    apr_thread_cond_t *cv;
    shop_batch_item *next;
};

typedef struct {
    int max;
    int queued;             /* waiting for a leader now */
    int running;            /* a batch is being done now */
    apr_uint64_t batches;   /* done since start */
    apr_uint64_t items;     /* in them */
    apr_uint64_t timeouts;
} shop_batch_stats;

apr_status_t shop_batch_create(shop_batch **out, int max, apr_pool_t *p);

/* p: the caller's pool, for the item's condition variable. */
shop_batch_turn shop_batch_join(shop_batch *b, shop_batch_item *it,
                                apr_interval_time_t wait, apr_pool_t *p);

/* The leader: its own item first, then the oldest queued, at most max in
 * all, into items[]; returns how many. */
int shop_batch_take(shop_batch *b, shop_batch_item *lead, shop_batch_item **items);

/* The leader, once every taken item holds its result. */
void shop_batch_done(shop_batch *b, shop_batch_item **items, int n);

void shop_batch_stats_get(shop_batch *b, shop_batch_stats *out);

/* The most items a batch takes (what shop_batch_take's items[] must hold). */
int shop_batch_max(const shop_batch *b);

#endif
