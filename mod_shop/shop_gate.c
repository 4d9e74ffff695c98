/*
 * The bounded gate (shop_gate.h).  One mutex and one condition variable:
 * a leaver signals one waiter; a waiter re-checks after every wake-up
 * (spurious wake-ups, or a newcomer took the place first) until its
 * deadline passes.
 */
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "shop_gate.h"

struct shop_gate {
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv;
    shop_gate_stats st;
};

apr_status_t shop_gate_create(shop_gate **out, int limit, int queue, apr_pool_t *p)
{
    shop_gate *g = apr_pcalloc(p, sizeof(*g));
    apr_status_t rv = apr_thread_mutex_create(&g->mu, APR_THREAD_MUTEX_DEFAULT, p);

    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&g->cv, p);
    }
    g->st.limit = limit;
    g->st.queue = queue;
    *out = rv == APR_SUCCESS ? g : NULL;
    return rv;
}

/* Waits under the mutex until there is a place or the deadline passes. */
static int wait_for_place(shop_gate *g, apr_time_t deadline)
{
    g->st.waiting++;
    while (g->st.inside >= g->st.limit) {
        apr_time_t now = apr_time_now();
        if (now >= deadline) {
            break;
        }
        apr_thread_cond_timedwait(g->cv, g->mu, deadline - now);
    }
    g->st.waiting--;
    return g->st.inside < g->st.limit;
}

int shop_gate_enter(shop_gate *g, apr_interval_time_t wait)
{
    int in;

    apr_thread_mutex_lock(g->mu);
    if (g->st.inside < g->st.limit) {
        in = 1;
    }
    else if (g->st.waiting >= g->st.queue || wait <= 0) {
        in = 0;     /* shed at once: the queue alone would outlast the wait */
    }
    else {
        in = wait_for_place(g, apr_time_now() + wait);
    }
    if (in) {
        g->st.inside++;
        g->st.entered++;
    }
    else {
        g->st.refused++;
    }
    apr_thread_mutex_unlock(g->mu);
    return in;
}

void shop_gate_leave(shop_gate *g)
{
    apr_thread_mutex_lock(g->mu);
    g->st.inside--;
    apr_thread_cond_signal(g->cv);
    apr_thread_mutex_unlock(g->mu);
}

void shop_gate_stats_get(shop_gate *g, shop_gate_stats *out)
{
    apr_thread_mutex_lock(g->mu);
    *out = g->st;
    apr_thread_mutex_unlock(g->mu);
}

void shop_gate_set_limit(shop_gate *g, int limit)
{
    apr_thread_mutex_lock(g->mu);
    if (limit > g->st.limit) {
        apr_thread_cond_broadcast(g->cv);
    }
    g->st.limit = limit;
    apr_thread_mutex_unlock(g->mu);
}

int shop_gate_share(int total, int children, int child_max)
{
    int share;

    if (total <= 0) {
        return child_max;
    }
    share = children > 0 ? (total + children - 1) / children : total;
    return share < 1 ? 1 : share > child_max ? child_max : share;
}
