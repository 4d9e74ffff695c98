/*
 * The batcher, with real threads: a lone caller leads at once; under a
 * crowd every item gets its own result, one batch runs at a time, none
 * larger than max, and callers do share batches; the lead passes to the
 * oldest queued item; a queued wait runs out at its bound and leaves the
 * queue, while a taken item waits for its leader.
 */
#include "unit.h"

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "shop_batch.h"

#define MS(n) ((apr_interval_time_t)(n) * 1000)
#define CALLERS 24
#define ROUNDS 100

typedef struct {
    int in;
    int out;
} job;

typedef struct {
    shop_batch *b;
    volatile apr_uint32_t running;      /* batches being done now */
    volatile apr_uint32_t most_running;
    volatile apr_uint32_t biggest;
    volatile apr_uint32_t wrong;        /* results that were not the caller's */
} crowd;

static void note_most(volatile apr_uint32_t *most, apr_uint32_t now)
{
    apr_uint32_t seen;

    while ((seen = apr_atomic_read32(most)) < now && apr_atomic_cas32(most, now, seen) != seen) {
    }
}

/* What a leader does: every item's result, from its own input. */
static void lead(crowd *c, shop_batch_item *mine)
{
    shop_batch_item *items[64];
    int n = shop_batch_take(c->b, mine, items), i;

    note_most(&c->most_running, apr_atomic_inc32(&c->running) + 1);
    note_most(&c->biggest, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        job *j = items[i]->data;
        j->out = j->in * 2;
    }
    apr_sleep(200);
    apr_atomic_dec32(&c->running);
    shop_batch_done(c->b, items, n);
}

/* One join, in a frame of its own: the thread exits from its caller. */
static void one_round(crowd *c, apr_pool_t *p, int r)
{
    job j = { (int)(apr_time_now() % 100000) + r, -1 };
    shop_batch_item it;

    memset(&it, 0, sizeof(it));
    it.data = &j;
    switch (shop_batch_join(c->b, &it, MS(5000), p)) {
    case SHOP_BATCH_LEAD:
        lead(c, &it);
        break;
    case SHOP_BATCH_DONE:
        break;
    case SHOP_BATCH_TIMEOUT:        /* not expected: a wrong result */
        break;
    }
    if (j.out != j.in * 2) {
        apr_atomic_inc32(&c->wrong);
    }
}

static void *APR_THREAD_FUNC caller(apr_thread_t *t, void *data)
{
    crowd *c = data;
    apr_pool_t *p;
    int r;

    apr_pool_create(&p, NULL);
    for (r = 0; r < ROUNDS; r++) {
        one_round(c, p, r);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    (void)t;
    return NULL;        /* not apr_thread_exit: ASan misreads its unwinding */
}

static void test_a_crowd_shares_batches_one_at_a_time(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    crowd c = { NULL, 0, 0, 0, 0 };
    apr_thread_t *th[CALLERS];
    shop_batch_stats st;
    apr_status_t rv;
    int i;

    assert_int_equal(shop_batch_create(&c.b, 8, p), APR_SUCCESS);
    for (i = 0; i < CALLERS; i++) {
        assert_int_equal(apr_thread_create(&th[i], NULL, caller, &c, p), APR_SUCCESS);
    }
    for (i = 0; i < CALLERS; i++) {
        apr_thread_join(&rv, th[i]);
    }
    assert_int_equal(c.wrong, 0);
    assert_int_equal(c.most_running, 1);
    assert_true(c.biggest <= 8);
    assert_true(c.biggest > 1);             /* the crowd did share batches */
    shop_batch_stats_get(c.b, &st);
    assert_int_equal(st.items, CALLERS * ROUNDS);
    assert_true(st.batches < st.items);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.timeouts, 0);
}

static void test_a_lone_caller_leads_at_once_every_time(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_batch *b;
    shop_batch_item it, *items[4];
    int i;

    assert_int_equal(shop_batch_create(&b, 4, p), APR_SUCCESS);
    assert_int_equal(shop_batch_max(b), 4);
    for (i = 0; i < 3; i++) {
        memset(&it, 0, sizeof(it));
        assert_int_equal(shop_batch_join(b, &it, MS(1), p), SHOP_BATCH_LEAD);
        assert_int_equal(shop_batch_take(b, &it, items), 1);
        assert_ptr_equal(items[0], &it);
        shop_batch_done(b, items, 1);
    }
}

typedef struct {
    shop_batch *b;
    shop_batch_item it;
    apr_interval_time_t wait;
    shop_batch_turn turn;
    volatile apr_uint32_t joined;       /* turn is set */
    apr_pool_t *p;
} joiner;

static void *APR_THREAD_FUNC join_once(apr_thread_t *t, void *data)
{
    joiner *j = data;

    j->turn = shop_batch_join(j->b, &j->it, j->wait, j->p);
    apr_atomic_set32(&j->joined, 1);
    (void)t;
    return NULL;
}

static void start_joiner(joiner *j, shop_batch *b, apr_interval_time_t wait,
                         apr_thread_t **th, apr_pool_t *p)
{
    memset(j, 0, sizeof(*j));
    j->b = b;
    j->wait = wait;
    j->p = p;
    assert_int_equal(apr_thread_create(th, NULL, join_once, j, p), APR_SUCCESS);
}

static void wait_queued(shop_batch *b, int n)
{
    shop_batch_stats st;

    do {
        apr_sleep(MS(1));
        shop_batch_stats_get(b, &st);
    } while (st.queued != n);
}

static void test_a_queued_wait_runs_out_and_leaves_the_queue(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_batch *b;
    shop_batch_item lead, *items[4];
    shop_batch_stats st;
    joiner j;
    apr_thread_t *th;
    apr_status_t rv;
    apr_time_t t0 = apr_time_now();

    assert_int_equal(shop_batch_create(&b, 4, p), APR_SUCCESS);
    memset(&lead, 0, sizeof(lead));
    assert_int_equal(shop_batch_join(b, &lead, 0, p), SHOP_BATCH_LEAD);
    start_joiner(&j, b, MS(30), &th, p);
    apr_thread_join(&rv, th);
    assert_int_equal(j.turn, SHOP_BATCH_TIMEOUT);
    assert_true(apr_time_now() - t0 >= MS(30));
    shop_batch_stats_get(b, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.timeouts, 1);
    /* the leader's batch has only itself, and nobody is left to lead */
    assert_int_equal(shop_batch_take(b, &lead, items), 1);
    shop_batch_done(b, items, 1);
    shop_batch_stats_get(b, &st);
    assert_int_equal(st.running, 0);
}

static void test_the_lead_passes_to_the_oldest_queued(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_batch *b;
    shop_batch_item lead, *items[4];
    joiner first, second;
    apr_thread_t *th1, *th2;
    apr_status_t rv;

    assert_int_equal(shop_batch_create(&b, 4, p), APR_SUCCESS);
    memset(&lead, 0, sizeof(lead));
    assert_int_equal(shop_batch_join(b, &lead, 0, p), SHOP_BATCH_LEAD);
    assert_int_equal(shop_batch_take(b, &lead, items), 1);     /* before they come */
    start_joiner(&first, b, MS(5000), &th1, p);
    wait_queued(b, 1);
    start_joiner(&second, b, MS(5000), &th2, p);
    wait_queued(b, 2);
    shop_batch_done(b, items, 1);
    apr_thread_join(&rv, th1);
    assert_int_equal(first.turn, SHOP_BATCH_LEAD);
    /* the new leader takes the one still queued; it waits, however long */
    assert_int_equal(shop_batch_take(b, &first.it, items), 2);
    assert_ptr_equal(items[1], &second.it);
    apr_sleep(MS(50));
    assert_int_equal(apr_atomic_read32(&second.joined), 0);
    shop_batch_done(b, items, 2);
    apr_thread_join(&rv, th2);
    assert_int_equal(second.turn, SHOP_BATCH_DONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_a_lone_caller_leads_at_once_every_time),
        UNIT_TEST(test_a_crowd_shares_batches_one_at_a_time),
        UNIT_TEST(test_a_queued_wait_runs_out_and_leaves_the_queue),
        UNIT_TEST(test_the_lead_passes_to_the_oldest_queued),
    };
    return UNIT_RUN("batch", tests);
}
