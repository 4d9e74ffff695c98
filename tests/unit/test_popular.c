/*
 * The popular ranking's shared block: rendering, the seqlock's publish and
 * read (including a reader racing a writer), recovery of a torn block, and
 * a writer that died mid-write (counter left odd): reads stay bounded and
 * never torn, the next publish takes over.
 */
#include "unit.h"

#include <string.h>
#include <apr_thread_proc.h>

#include "shop_popular.h"

#define DAY apr_time_from_sec(86400)
#define AT_2026_11_24_10_00 apr_time_from_sec(1795514400)

static shop_popular_block *new_block(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(shop_popular_block));
}

static void test_render_items_in_order_with_ranks(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_item items[2] = {
        {7, "Latte \"large\"", 5000, 12, 40},
        {3, "\xec\xbb\xa4\xed\x94\xbc", 4500, 0, 40},   /* 커피, UTF-8 */
    };
    const char *body = shop_popular_render(p, 3 * DAY, AT_2026_11_24_10_00, items, 2);

    assert_string_equal(body,
        "{\"window_days\":3,\"generated_at\":\"2026-11-24T10:00:00Z\",\"items\":["
        "{\"rank\":1,\"product_id\":7,\"name\":\"Latte \\\"large\\\"\",\"price\":5000,"
        "\"stock\":12,\"sold_quantity\":40},"
        "{\"rank\":2,\"product_id\":3,\"name\":\"\\uCEE4\\uD53C\",\"price\":4500,"
        "\"stock\":0,\"sold_quantity\":40}]}");
}

static void test_render_fractional_window_and_empty(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    assert_string_equal(shop_popular_render(p, DAY / 2, AT_2026_11_24_10_00, NULL, 0),
        "{\"window_days\":0.5,\"generated_at\":\"2026-11-24T10:00:00Z\",\"items\":[]}");
    assert_string_equal(shop_popular_render_empty(p, 3 * DAY),
        "{\"window_days\":3,\"generated_at\":null,\"items\":[]}");
}

static void test_read_before_publish_is_null(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_size_t len = 99;
    apr_time_t at = 99;

    assert_null(shop_popular_read(p, new_block(p), &len, &at));
}

static void test_publish_then_read_copies(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;
    const char *got;

    assert_true(shop_popular_publish(b, "{\"a\":1}", 7, 42));
    got = shop_popular_read(p, b, &len, &at);
    assert_string_equal(got, "{\"a\":1}");
    assert_int_equal(len, 7);
    assert_int_equal(at, 42);
    assert_int_equal(b->seq % 2, 0);
    assert_true(got != b->body);                /* a copy, not the shared bytes */

    assert_true(shop_popular_publish(b, "{}", 2, 43));
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{}");
    assert_int_equal(at, 43);
    assert_int_equal(b->seq, 4);
}

static void test_publish_refuses_oversized_body(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;

    assert_true(shop_popular_publish(b, "{\"old\":1}", 9, 1));
    assert_false(shop_popular_publish(b, "x", SHOP_POPULAR_BODY_MAX + 1, 2));
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{\"old\":1}");
    assert_int_equal(at, 1);
}

static void test_recover_torn_block(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;

    assert_true(shop_popular_publish(b, "{\"ok\":1}", 8, 5));
    shop_popular_recover(b);                    /* a whole block stays */
    assert_non_null(shop_popular_read(p, b, &len, &at));

    b->seq++;                                   /* saved mid-write */
    shop_popular_recover(b);
    assert_int_equal(b->seq, 0);
    assert_null(shop_popular_read(p, b, &len, &at));
}

/* A writer alternating two bodies while a reader copies: every copy must
 * be one of the two, whole, with its own generated_at.  A copy may also be
 * NULL (the reader's bounds ran out), never torn.  pace: microseconds the
 * writer sleeps between publishes (0: back to back). */
typedef struct {
    shop_popular_block *b;
    volatile int stop;
    apr_interval_time_t pace;
} race;

static char body_a[4000], body_b[6000];

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *data)
{
    race *r = data;
    int i;

    for (i = 0; !r->stop; i++) {
        if (i % 2) {
            shop_popular_publish(r->b, body_b, sizeof(body_b) - 1, 2);
        }
        else {
            shop_popular_publish(r->b, body_a, sizeof(body_a) - 1, 1);
        }
        if (r->pace) {
            apr_sleep(r->pace);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Returns how many of `reads` reads gave up (NULL).  tries 0: the
 * default bounds (shop_popular_read). */
static int race_writers(apr_pool_t *p, int writers, apr_interval_time_t pace,
                        int reads, int tries, apr_interval_time_t budget)
{
    race r = { new_block(p), 0, pace };
    apr_thread_t *t, *t2 = NULL;
    apr_status_t rv;
    int i, nulls = 0;

    memset(body_a, 'a', sizeof(body_a) - 1);
    memset(body_b, 'b', sizeof(body_b) - 1);
    shop_popular_publish(r.b, body_a, sizeof(body_a) - 1, 1);
    assert_int_equal(apr_thread_create(&t, NULL, writer, &r, p), APR_SUCCESS);
    if (writers > 1) {
        assert_int_equal(apr_thread_create(&t2, NULL, writer, &r, p), APR_SUCCESS);
    }
    for (i = 0; i < reads; i++) {
        apr_pool_t *sub;
        apr_size_t len = 0;
        apr_time_t at = 0;
        const char *got;

        apr_pool_create(&sub, p);
        got = tries ? shop_popular_read_bounded(sub, r.b, &len, &at, tries, budget)
                    : shop_popular_read(sub, r.b, &len, &at);
        if (got == NULL) {
            nulls++;
        }
        else if (at == 1) {
            assert_int_equal(len, sizeof(body_a) - 1);
            assert_memory_equal(got, body_a, len);
        }
        else {
            assert_int_equal(at, 2);
            assert_int_equal(len, sizeof(body_b) - 1);
            assert_memory_equal(got, body_b, len);
        }
        apr_pool_destroy(sub);
    }
    r.stop = 1;
    apr_thread_join(&rv, t);
    if (t2) {
        apr_thread_join(&rv, t2);
    }
    return nulls;
}

static int race_reads(apr_pool_t *p, apr_interval_time_t pace, int reads,
                      int tries, apr_interval_time_t budget)
{
    return race_writers(p, 1, pace, reads, tries, budget);
}

/* Two writers at once (the old and the new jobs process overlap for a
 * moment on a restart): they take turns, and every copy stays whole. */
static void test_two_writers_never_tear_a_copy(void **state)
{
    int nulls = race_writers(UNIT_POOL(state), 2, 0, 20000, 0x7fffffff,
                             apr_time_from_sec(10));

    assert_int_equal(nulls, 0);
}

/* Back-to-back writes, readers with bounds large enough to always get
 * through (as the unbounded reader did): 20000 whole copies. */
static void test_reader_never_sees_a_torn_body(void **state)
{
    assert_int_equal(race_reads(UNIT_POOL(state), 0, 20000, 0x7fffffff,
                                apr_time_from_sec(10)), 0);
}

/* The same writer against the default bounds: it keeps the counter odd
 * nearly all the time, so most reads give up (that is what the bounds are
 * for); the ones that succeed must be whole. */
static void test_bounded_reader_under_back_to_back_writes(void **state)
{
    int nulls = race_reads(UNIT_POOL(state), 0, 1000, 0, 0);

    print_message("back-to-back writer: %d of 1000 bounded reads gave up\n", nulls);
    assert_true(nulls <= 1000);
}

/* A writer that pauses between publishes (the real one publishes every
 * ShopPopularRefresh, seconds apart): the bounds let every read through,
 * bar one preempted at an unlucky moment on a shared box. */
static void test_paced_writer_reads_get_through(void **state)
{
    int nulls = race_reads(UNIT_POOL(state), 100, 20000, 0, 0);

    print_message("writer pausing 100 us: %d of 20000 reads gave up\n", nulls);
    assert_true(nulls <= 20);
}

/* --- A writer that died between its two counter stores ------------------ */

#define DEAD_BODY "{\"items\":[1,2,3]}"

/* Publish a body, then start a write and "die": the counter stays odd and
 * the body is half overwritten. */
static shop_popular_block *dead_writer_block(apr_pool_t *p, apr_uint32_t odd_seq)
{
    shop_popular_block *b = new_block(p);

    assert_true(shop_popular_publish(b, DEAD_BODY, strlen(DEAD_BODY), 7));
    b->seq = odd_seq;
    memset(b->body, 'X', 5);
    return b;
}

static apr_interval_time_t timed_read(apr_pool_t *p, const shop_popular_block *b,
                                      const char **got)
{
    apr_size_t len = 0;
    apr_time_t at = 0, t0 = apr_time_now();

    *got = shop_popular_read(p, b, &len, &at);
    if (*got != NULL) {
        assert_int_equal(len, strlen(*got));
    }
    return apr_time_now() - t0;
}

static void test_dead_writer_reads_are_bounded_then_publish_recovers(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = dead_writer_block(p, 3);
    const char *got;
    apr_interval_time_t took;
    apr_size_t len = 0;
    apr_time_t at = 0;

    /* The first read spends at most the budget (plus scheduling slack;
     * generous because the box is shared and runs under ASan). */
    took = timed_read(p, b, &got);
    assert_null(got);                           /* never the torn "XXXXX..." */
    assert_true(took < SHOP_POPULAR_READ_BUDGET + apr_time_from_sec(1));

    /* Later reads of the same stuck value give up at once. */
    took = timed_read(p, b, &got);
    assert_null(got);
    assert_true(took < SHOP_POPULAR_READ_BUDGET);
    assert_int_equal(b->seq, 3);                /* readers never write */

    /* The next publish waits for the writer, then takes the odd counter
     * over with a new odd value (5), and ends it even. */
    assert_true(shop_popular_publish(b, "{\"new\":1}", 9, 8));
    assert_int_equal(b->seq, 6);
    got = shop_popular_read(p, b, &len, &at);
    assert_string_equal(got, "{\"new\":1}");
    assert_int_equal(len, 9);
    assert_int_equal(at, 8);

    /* And the seqlock works as before after it. */
    assert_true(shop_popular_publish(b, "{}", 2, 9));
    assert_int_equal(b->seq, 8);
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{}");
}

static void test_dead_writer_tries_bound(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = dead_writer_block(p, 5);
    apr_size_t len = 0;
    apr_time_t at = 0, t0 = apr_time_now();

    /* An hour of budget, 10 tries: the tries end it. */
    assert_null(shop_popular_read_bounded(p, b, &len, &at, 10, apr_time_from_sec(3600)));
    assert_true(apr_time_now() - t0 < apr_time_from_sec(2));
}

static void test_dead_writer_time_bound(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = dead_writer_block(p, 9);
    apr_size_t len = 0;
    apr_time_t at = 0, t0 = apr_time_now();
    apr_interval_time_t took;

    /* Practically unlimited tries, 20 ms: the clock ends it. */
    assert_null(shop_popular_read_bounded(p, b, &len, &at, 0x7fffffff,
                                          apr_time_from_msec(20)));
    took = apr_time_now() - t0;
    assert_true(took >= apr_time_from_msec(20));
    assert_true(took < apr_time_from_sec(2));
}

/* Publishing over an odd counter from the start (a fresh block restored
 * mid-write without recover, or a writer dying at its very first store). */
static void test_publish_over_odd_counter(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;

    b->seq = 11;
    assert_null(shop_popular_read_bounded(p, b, &len, &at, 3, 0));
    assert_true(shop_popular_publish(b, "{\"a\":2}", 7, 3));
    assert_int_equal(b->seq, 14);
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{\"a\":2}");
}

/* A reader waiting on a dead writer's odd counter gets the body of the
 * writer that takes over, if that happens within its budget. */
typedef struct {
    shop_popular_block *b;
    apr_pool_t *p;
    const char *got;
    apr_size_t len;
} waiting_reader;

static void *APR_THREAD_FUNC wait_reader(apr_thread_t *t, void *data)
{
    waiting_reader *w = data;
    apr_time_t at = 0;

    w->got = shop_popular_read_bounded(w->p, w->b, &w->len, &at, 0x7fffffff,
                                       apr_time_from_sec(5));
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_reader_waiting_on_dead_writer_gets_the_takeover(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    waiting_reader w = { dead_writer_block(p, 13), p, NULL, 0 };
    apr_thread_t *t;
    apr_status_t rv;

    assert_int_equal(apr_thread_create(&t, NULL, wait_reader, &w, p), APR_SUCCESS);
    apr_sleep(apr_time_from_msec(20));
    assert_true(shop_popular_publish(w.b, "{\"took\":\"over\"}", 15, 10));
    apr_thread_join(&rv, t);
    assert_string_equal(w.got, "{\"took\":\"over\"}");
    assert_int_equal(w.len, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_render_items_in_order_with_ranks),
        UNIT_TEST(test_render_fractional_window_and_empty),
        UNIT_TEST(test_read_before_publish_is_null),
        UNIT_TEST(test_publish_then_read_copies),
        UNIT_TEST(test_publish_refuses_oversized_body),
        UNIT_TEST(test_recover_torn_block),
        UNIT_TEST(test_reader_never_sees_a_torn_body),
        UNIT_TEST(test_two_writers_never_tear_a_copy),
        UNIT_TEST(test_bounded_reader_under_back_to_back_writes),
        UNIT_TEST(test_paced_writer_reads_get_through),
        UNIT_TEST(test_dead_writer_reads_are_bounded_then_publish_recovers),
        UNIT_TEST(test_dead_writer_tries_bound),
        UNIT_TEST(test_dead_writer_time_bound),
        UNIT_TEST(test_publish_over_odd_counter),
        UNIT_TEST(test_reader_waiting_on_dead_writer_gets_the_takeover),
    };

    return UNIT_RUN("shop_popular", tests);
}
