/*
 * Order items: parsing, bounds, the sorted canonical form (the global lock
 * order) and the PostgreSQL array literals built from it.
 */
#include "unit.h"

#include "shop_json.h"
#include "shop_order.h"

static json_t *load(apr_pool_t *p, const char *text)
{
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

    assert_non_null(j);
    return shop_json_own(p, j);
}

static shop_err parse(apr_pool_t *p, const char *text, shop_item **items,
                      int *count, const char **detail)
{
    return shop_order_items_parse(p, load(p, text), items, count, detail);
}

static void test_items_sorted_by_product_id(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_item *items = NULL;
    int count = 0;
    const char *detail = NULL;

    assert_int_equal(parse(p, "{\"items\":[{\"product_id\":9,\"quantity\":1},"
                              "{\"product_id\":2,\"quantity\":5},"
                              "{\"product_id\":4,\"quantity\":10000}]}",
                           &items, &count, &detail), SHOP_OK);
    assert_int_equal(count, 3);
    assert_int_equal(items[0].product_id, 2);
    assert_int_equal(items[0].quantity, 5);
    assert_int_equal(items[1].product_id, 4);
    assert_int_equal(items[2].product_id, 9);
    assert_string_equal(shop_items_pg_ids(p, items, count), "{2,4,9}");
    assert_string_equal(shop_items_pg_quantities(p, items, count), "{5,10000,1}");
}

static void test_rejected_bodies(void **state)
{
    static const char *const bad[] = {
        "{}",
        "{\"items\":[]}",
        "{\"items\":{}}",
        "{\"items\":[1]}",
        "{\"items\":[{\"product_id\":1}]}",
        "{\"items\":[{\"quantity\":1}]}",
        "{\"items\":[{\"product_id\":1,\"quantity\":0}]}",
        "{\"items\":[{\"product_id\":1,\"quantity\":-1}]}",
        "{\"items\":[{\"product_id\":1,\"quantity\":10001}]}",
        "{\"items\":[{\"product_id\":1,\"quantity\":1.5}]}",
        "{\"items\":[{\"product_id\":\"1\",\"quantity\":1}]}",
        "{\"items\":[{\"product_id\":0,\"quantity\":1}]}",
        "{\"items\":[{\"product_id\":-3,\"quantity\":1}]}",
        "{\"items\":[{\"product_id\":9007199254740992,\"quantity\":1}]}",
        "{\"items\":[{\"product_id\":1,\"quantity\":1},{\"product_id\":1,\"quantity\":2}]}",
    };
    apr_pool_t *p = UNIT_POOL(state);
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        shop_item *items = NULL;
        int count = -1;
        const char *detail = NULL;

        if (parse(p, bad[i], &items, &count, &detail) != SHOP_E_INVALID_REQUEST
            || detail == NULL) {
            fail_msg("accepted or no detail: %s", bad[i]);
        }
        assert_null(items);
        assert_int_equal(count, -1);
    }
}

static void test_item_count_limit(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *body = json_object(), *arr = json_array();
    shop_item *items = NULL;
    int count = 0, i;
    const char *detail = NULL;

    for (i = 1; i <= SHOP_ORDER_MAX_ITEMS; i++) {
        json_array_append_new(arr, json_pack("{s:i, s:i}", "product_id", i, "quantity", 1));
    }
    json_object_set_new(body, "items", arr);
    shop_json_own(p, body);
    assert_int_equal(shop_order_items_parse(p, body, &items, &count, &detail), SHOP_OK);
    assert_int_equal(count, SHOP_ORDER_MAX_ITEMS);

    json_array_append_new(arr, json_pack("{s:i, s:i}", "product_id", i, "quantity", 1));
    assert_int_equal(shop_order_items_parse(p, body, &items, &count, &detail),
                     SHOP_E_INVALID_REQUEST);
}

static void test_duplicate_detail_names_the_product(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_item *items = NULL;
    int count = 0;
    const char *detail = NULL;

    assert_int_equal(parse(p, "{\"items\":[{\"product_id\":7,\"quantity\":1},"
                              "{\"product_id\":3,\"quantity\":1},"
                              "{\"product_id\":7,\"quantity\":2}]}",
                           &items, &count, &detail), SHOP_E_INVALID_REQUEST);
    assert_non_null(strstr(detail, "7"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_items_sorted_by_product_id),
        UNIT_TEST(test_rejected_bodies),
        UNIT_TEST(test_item_count_limit),
        UNIT_TEST(test_duplicate_detail_names_the_product),
    };

    return UNIT_RUN("shop_order", tests);
}
