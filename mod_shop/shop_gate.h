/*
 * A counting gate with a bounded wait: at most `limit` holders at once in
 * one process; a caller beyond that waits at most `wait` for a place, and
 * one that finds `queue` callers already waiting is refused at once.
 *
 * mod_shop puts its write transactions behind one (ShopWriteConcurrency,
 * ShopBusyWait): however many requests want to write (a flash sale on one
 * product, a coupon drop), they hold at most `limit` of the child's pooled
 * database connections, so the reads always find one; and a write that
 * cannot get in within the bound is answered 503 BUSY instead of queueing
 * for seconds.
 *
 * httpd-free (APR threads only), unit-tested with real threads.
 */
#ifndef SHOP_GATE_H
#define SHOP_GATE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct shop_gate shop_gate;

typedef struct {
    int limit;
    int queue;
    int inside;             /* holders now */
    int waiting;            /* callers waiting now */
    apr_uint64_t entered;   /* since start */
    apr_uint64_t refused;   /* waits that ran out, or found the queue full */
} shop_gate_stats;

apr_status_t shop_gate_create(shop_gate **out, int limit, int queue, apr_pool_t *p);

/* 1: the caller holds a place (shop_gate_leave gives it back); 0: refused. */
int shop_gate_enter(shop_gate *g, apr_interval_time_t wait);
void shop_gate_leave(shop_gate *g);
void shop_gate_stats_get(shop_gate *g, shop_gate_stats *out);

/* A new limit (>= 1), from now on: holders beyond a lowered one stay until
 * they leave; a raised one lets waiters in at once. */
void shop_gate_set_limit(shop_gate *g, int limit);

/* One child's part of a bound for all the children of a server: `total`
 * spread over `children` (rounded up, so the children together may hold a
 * few more than `total`), at least 1, at most `child_max`; `total` 0 means
 * no server-wide bound: `child_max`. */
int shop_gate_share(int total, int children, int child_max);

#endif
