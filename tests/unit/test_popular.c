/*
 * The popular ranking's shared block: rendering, the seqlock's publish and
 * read (including a reader racing a writer), and recovery of a torn block.
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
 * be one of the two, whole, with its own generated_at. */
typedef struct {
    shop_popular_block *b;
    volatile int stop;
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
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_reader_never_sees_a_torn_body(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    race r = { new_block(p), 0 };
    apr_thread_t *t;
    apr_status_t rv;
    int i;

    memset(body_a, 'a', sizeof(body_a) - 1);
    memset(body_b, 'b', sizeof(body_b) - 1);
    shop_popular_publish(r.b, body_a, sizeof(body_a) - 1, 1);
    assert_int_equal(apr_thread_create(&t, NULL, writer, &r, p), APR_SUCCESS);
    for (i = 0; i < 20000; i++) {
        apr_pool_t *sub;
        apr_size_t len = 0;
        apr_time_t at = 0;
        const char *got;

        apr_pool_create(&sub, p);
        got = shop_popular_read(sub, r.b, &len, &at);
        assert_non_null(got);
        if (at == 1) {
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
    };

    return UNIT_RUN("shop_popular", tests);
}
