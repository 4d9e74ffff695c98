/*
 * The bounded gate, with real threads: never more than `limit` inside, a
 * waiter gets the place a leaver gives back, a wait runs out at its bound,
 * a full queue is refused at once, and the counters add up.
 */
#include "unit.h"

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "shop_gate.h"

#define MS(n) ((apr_interval_time_t)(n) * 1000)

typedef struct {
    shop_gate *g;
    volatile apr_uint32_t inside;
    volatile apr_uint32_t most;
    volatile apr_uint32_t in;
    volatile apr_uint32_t out;
} crowd;

static void *APR_THREAD_FUNC crowd_member(apr_thread_t *t, void *data)
{
    crowd *c = data;
    int i;

    for (i = 0; i < 200; i++) {
        if (shop_gate_enter(c->g, MS(2000))) {
            apr_uint32_t now = apr_atomic_inc32(&c->inside) + 1, seen;
            while ((seen = apr_atomic_read32(&c->most)) < now
                   && apr_atomic_cas32(&c->most, now, seen) != seen) {
            }
            apr_atomic_inc32(&c->in);
            apr_sleep(50);
            apr_atomic_dec32(&c->inside);
            shop_gate_leave(c->g);
        }
        else {
            apr_atomic_inc32(&c->out);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_never_more_than_the_limit_inside(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    crowd c = { NULL, 0, 0, 0, 0 };
    apr_thread_t *th[16];
    shop_gate_stats st;
    apr_status_t rv;
    int i;

    assert_int_equal(shop_gate_create(&c.g, 3, 64, p), APR_SUCCESS);
    for (i = 0; i < 16; i++) {
        assert_int_equal(apr_thread_create(&th[i], NULL, crowd_member, &c, p), APR_SUCCESS);
    }
    for (i = 0; i < 16; i++) {
        apr_thread_join(&rv, th[i]);
    }
    assert_true(c.most <= 3);
    assert_int_equal(c.most, 3);            /* and the places were used */
    assert_int_equal(c.in + c.out, 16 * 200);
    assert_int_equal(c.out, 0);             /* 2 s is ample for 50 us holds */
    shop_gate_stats_get(c.g, &st);
    assert_int_equal(st.inside, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.entered, 16 * 200);
    assert_int_equal(st.refused, 0);
}

static void test_a_wait_runs_out_at_its_bound(void **state)
{
    shop_gate *g;
    shop_gate_stats st;
    apr_time_t t0;

    assert_int_equal(shop_gate_create(&g, 1, 8, UNIT_POOL(state)), APR_SUCCESS);
    assert_true(shop_gate_enter(g, 0));
    t0 = apr_time_now();
    assert_false(shop_gate_enter(g, MS(30)));
    assert_true(apr_time_now() - t0 >= MS(30));
    assert_false(shop_gate_enter(g, 0));    /* no wait at all: refused at once */
    shop_gate_leave(g);
    assert_true(shop_gate_enter(g, 0));
    shop_gate_stats_get(g, &st);
    assert_int_equal(st.entered, 2);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.inside, 1);
}

typedef struct {
    shop_gate *g;
    volatile apr_uint32_t result;   /* 0 running, 1 entered, 2 refused */
} waiter;

static void *APR_THREAD_FUNC wait_long(apr_thread_t *t, void *data)
{
    waiter *w = data;

    apr_atomic_set32(&w->result, shop_gate_enter(w->g, MS(5000)) ? 1 : 2);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void wait_until_waiting(shop_gate *g, int n)
{
    shop_gate_stats st;
    int i;

    for (i = 0; i < 5000; i++) {
        shop_gate_stats_get(g, &st);
        if (st.waiting == n) {
            return;
        }
        apr_sleep(MS(1));
    }
    fail_msg("never saw %d waiters", n);
}

/* A gate of one place, taken, and a thread waiting (5 s at most) for it. */
static apr_thread_t *full_gate_with_a_waiter(waiter *w, int queue, apr_pool_t *p)
{
    apr_thread_t *th;

    assert_int_equal(shop_gate_create(&w->g, 1, queue, p), APR_SUCCESS);
    assert_true(shop_gate_enter(w->g, 0));
    assert_int_equal(apr_thread_create(&th, NULL, wait_long, w, p), APR_SUCCESS);
    wait_until_waiting(w->g, 1);
    return th;
}

/* The waiter got in, woken (not timed out) after t0. */
static void waiter_got_in(apr_thread_t *th, waiter *w, apr_time_t t0)
{
    apr_status_t rv;

    apr_thread_join(&rv, th);
    assert_int_equal(w->result, 1);
    assert_true(apr_time_now() - t0 < MS(1000));
}

static void test_a_leaver_hands_its_place_to_a_waiter(void **state)
{
    waiter w = { NULL, 0 };
    apr_thread_t *th = full_gate_with_a_waiter(&w, 8, UNIT_POOL(state));
    apr_time_t t0 = apr_time_now();

    shop_gate_leave(w.g);
    waiter_got_in(th, &w, t0);
    shop_gate_leave(w.g);
}

static void test_a_full_queue_is_refused_at_once(void **state)
{
    waiter w = { NULL, 0 };
    apr_thread_t *th = full_gate_with_a_waiter(&w, 1, UNIT_POOL(state));
    apr_time_t t0 = apr_time_now();

    assert_false(shop_gate_enter(w.g, MS(5000)));  /* the one queue place is taken */
    assert_true(apr_time_now() - t0 < MS(1000));
    shop_gate_leave(w.g);
    waiter_got_in(th, &w, t0);
    shop_gate_leave(w.g);
}

static void test_a_raised_limit_lets_a_waiter_in_at_once(void **state)
{
    waiter w = { NULL, 0 };
    apr_thread_t *th = full_gate_with_a_waiter(&w, 8, UNIT_POOL(state));
    apr_time_t t0 = apr_time_now();

    shop_gate_set_limit(w.g, 2);        /* nobody left: the waiter gets the new place */
    waiter_got_in(th, &w, t0);
    shop_gate_leave(w.g);
    shop_gate_leave(w.g);
}

static void test_a_lowered_limit_keeps_its_holders_and_admits_no_more(void **state)
{
    shop_gate *g;
    shop_gate_stats st;

    assert_int_equal(shop_gate_create(&g, 3, 8, UNIT_POOL(state)), APR_SUCCESS);
    assert_true(shop_gate_enter(g, 0));
    assert_true(shop_gate_enter(g, 0));
    shop_gate_set_limit(g, 1);
    assert_false(shop_gate_enter(g, 0));
    shop_gate_leave(g);
    assert_false(shop_gate_enter(g, 0));    /* one still inside: the new limit */
    shop_gate_leave(g);
    assert_true(shop_gate_enter(g, 0));
    shop_gate_stats_get(g, &st);
    assert_int_equal(st.limit, 1);
    assert_int_equal(st.inside, 1);
    shop_gate_leave(g);
}

static void test_a_server_bound_is_shared_by_the_children(void **state)
{
    (void)state;
    assert_int_equal(shop_gate_share(16, 2, 8), 8);
    assert_int_equal(shop_gate_share(16, 3, 8), 6);     /* rounded up: 18 in all */
    assert_int_equal(shop_gate_share(16, 9, 8), 2);
    assert_int_equal(shop_gate_share(16, 40, 8), 1);    /* every child keeps one */
    assert_int_equal(shop_gate_share(16, 1, 8), 8);     /* never above a child's own */
    assert_int_equal(shop_gate_share(16, 0, 8), 8);     /* no count: the child's own */
    assert_int_equal(shop_gate_share(0, 9, 8), 8);      /* no server-wide bound */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_never_more_than_the_limit_inside),
        UNIT_TEST(test_a_wait_runs_out_at_its_bound),
        UNIT_TEST(test_a_leaver_hands_its_place_to_a_waiter),
        UNIT_TEST(test_a_full_queue_is_refused_at_once),
        UNIT_TEST(test_a_raised_limit_lets_a_waiter_in_at_once),
        UNIT_TEST(test_a_lowered_limit_keeps_its_holders_and_admits_no_more),
        UNIT_TEST(test_a_server_bound_is_shared_by_the_children),
    };
    return UNIT_RUN("gate", tests);
}
