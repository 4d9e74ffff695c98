/*
 * The batcher (shop_batch.h).  One mutex; each queued item waits on its
 * own condition variable, so a batch done wakes its own callers and the
 * next leader, not every thread in the queue.
 */
#include <apr_thread_mutex.h>

#include "shop_batch.h"

enum { QUEUED = 1, TAKEN, LEADS, DONE };

struct shop_batch {
    apr_thread_mutex_t *mu;
    shop_batch_item *head, *tail;       /* the queue, oldest first */
    shop_batch_stats st;
};

apr_status_t shop_batch_create(shop_batch **out, int max, apr_pool_t *p)
{
    shop_batch *b = apr_pcalloc(p, sizeof(*b));
    apr_status_t rv = apr_thread_mutex_create(&b->mu, APR_THREAD_MUTEX_DEFAULT, p);

    b->st.max = max < 1 ? 1 : max;
    *out = rv == APR_SUCCESS ? b : NULL;
    return rv;
}

static void enqueue(shop_batch *b, shop_batch_item *it)
{
    it->state = QUEUED;
    it->next = NULL;
    if (b->tail) {
        b->tail->next = it;
    }
    else {
        b->head = it;
    }
    b->tail = it;
    b->st.queued++;
}

static shop_batch_item *dequeue(shop_batch *b)
{
    shop_batch_item *it = b->head;

    if (it) {
        b->head = it->next;
        if (b->head == NULL) {
            b->tail = NULL;
        }
        b->st.queued--;
    }
    return it;
}

static void unlink_item(shop_batch *b, shop_batch_item *it)
{
    shop_batch_item **at = &b->head, *prev = NULL;

    while (*at && *at != it) {
        prev = *at;
        at = &(*at)->next;
    }
    if (*at) {
        *at = it->next;
        if (b->tail == it) {
            b->tail = prev;
        }
        b->st.queued--;
    }
}

/* Under the mutex, queued: until a leader takes it (then until its batch
 * is done, however long), it is made the leader, or the deadline passes. */
static shop_batch_turn wait_turn(shop_batch *b, shop_batch_item *it, apr_time_t deadline)
{
    for (;;) {
        apr_time_t now = apr_time_now();

        if (it->state == DONE || it->state == LEADS) {
            return it->state == DONE ? SHOP_BATCH_DONE : SHOP_BATCH_LEAD;
        }
        if (it->state == TAKEN) {
            apr_thread_cond_wait(it->cv, b->mu);
        }
        else if (now >= deadline) {
            unlink_item(b, it);
            b->st.timeouts++;
            return SHOP_BATCH_TIMEOUT;
        }
        else {
            apr_thread_cond_timedwait(it->cv, b->mu, deadline - now);
        }
    }
}

shop_batch_turn shop_batch_join(shop_batch *b, shop_batch_item *it,
                                apr_interval_time_t wait, apr_pool_t *p)
{
    shop_batch_turn turn = SHOP_BATCH_LEAD;

    apr_thread_mutex_lock(b->mu);
    if (!b->st.running) {
        b->st.running = 1;
        it->state = LEADS;
    }
    else if (it->cv == NULL && apr_thread_cond_create(&it->cv, p) != APR_SUCCESS) {
        turn = SHOP_BATCH_TIMEOUT;      /* cannot wait: the caller goes alone */
    }
    else {
        enqueue(b, it);
        turn = wait_turn(b, it, apr_time_now() + wait);
    }
    apr_thread_mutex_unlock(b->mu);
    return turn;
}

int shop_batch_take(shop_batch *b, shop_batch_item *lead, shop_batch_item **items)
{
    int n = 1;

    items[0] = lead;
    apr_thread_mutex_lock(b->mu);
    while (n < b->st.max && b->head) {
        items[n] = dequeue(b);
        items[n++]->state = TAKEN;
    }
    apr_thread_mutex_unlock(b->mu);
    return n;
}

void shop_batch_done(shop_batch *b, shop_batch_item **items, int n)
{
    shop_batch_item *next;
    int i;

    apr_thread_mutex_lock(b->mu);
    for (i = 0; i < n; i++) {
        items[i]->state = DONE;
        if (i > 0) {
            apr_thread_cond_signal(items[i]->cv);
        }
    }
    b->st.batches++;
    b->st.items += n;
    if ((next = dequeue(b)) != NULL) {
        next->state = LEADS;            /* still running: the lead passes on */
        apr_thread_cond_signal(next->cv);
    }
    else {
        b->st.running = 0;
    }
    apr_thread_mutex_unlock(b->mu);
}

int shop_batch_max(const shop_batch *b)
{
    return b->st.max;       /* set once, at create */
}

void shop_batch_stats_get(shop_batch *b, shop_batch_stats *out)
{
    apr_thread_mutex_lock(b->mu);
    *out = b->st;
    apr_thread_mutex_unlock(b->mu);
}
