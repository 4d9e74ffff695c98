/*
 * Request bodies: shop_json_parse_object on the raw bytes, then everything
 * a handler does with a parsed body: the order items (shop_order.c), the
 * typed field readers (shop_validate.c) on every member, the compact dump;
 * and the text helpers (shop_json_compact, shop_problem_doc with the input
 * as detail, shop_err_from_code).
 */
#include "fuzz.h"

#include <jansson.h>

#include "shop_json.h"
#include "shop_order.h"
#include "shop_validate.h"

static void check_items(apr_pool_t *p, const json_t *body)
{
    shop_item *items = NULL;
    int count = -1, i;
    const char *detail = NULL;
    shop_err e = shop_order_items_parse(p, body, &items, &count, &detail);

    if (e != SHOP_OK) {
        FUZZ_CHECK(e == SHOP_E_INVALID_REQUEST && detail != NULL);
        return;
    }
    FUZZ_CHECK(items != NULL);
    FUZZ_CHECK(count >= 1 && count <= SHOP_ORDER_MAX_ITEMS);
    FUZZ_CHECK((size_t)count == json_array_size(json_object_get(body, "items")));
    for (i = 0; i < count; i++) {
        FUZZ_CHECK(items[i].product_id >= 1);
        FUZZ_CHECK(items[i].product_id <= SHOP_JSON_INT_MAX);
        FUZZ_CHECK(items[i].quantity >= 1);
        FUZZ_CHECK(items[i].quantity <= SHOP_ORDER_MAX_QUANTITY);
        if (i > 0) {
            FUZZ_CHECK(items[i - 1].product_id < items[i].product_id);
        }
    }
    {
        const char *ids = shop_items_pg_ids(p, items, count);
        const char *qs = shop_items_pg_quantities(p, items, count);
        size_t n = strlen(ids), m = strlen(qs);

        FUZZ_CHECK(n >= 3 && ids[0] == '{' && ids[n - 1] == '}');
        FUZZ_CHECK(m >= 3 && qs[0] == '{' && qs[m - 1] == '}');
        FUZZ_CHECK(strspn(ids + 1, "0123456789,") == n - 2);
        FUZZ_CHECK(strspn(qs + 1, "0123456789,") == m - 2);
    }
}

static void check_fields(apr_pool_t *p, const json_t *body)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)body, key, value) {
        const char *detail = NULL, *s = NULL;
        apr_int64_t n = 0;
        int present = -1, b = -1;
        shop_err e;

        e = shop_json_int(p, body, key, 1, &present, &n, &detail);
        if (e == SHOP_OK) {
            FUZZ_CHECK(present == 1 && json_is_integer(value));
            FUZZ_CHECK(n <= SHOP_JSON_INT_MAX && n >= -SHOP_JSON_INT_MAX);
            FUZZ_CHECK(n == json_integer_value(value));
        }
        else {
            FUZZ_CHECK(present == 0 && detail != NULL);
        }

        detail = NULL;
        e = shop_json_string(p, body, key, 1, SHOP_NAME_MAX, &s, &detail);
        if (e == SHOP_OK) {
            FUZZ_CHECK(s != NULL && json_is_string(value));
            FUZZ_CHECK(strlen(s) == json_string_length(value));
            FUZZ_CHECK(strlen(s) >= 1 && strlen(s) <= 4 * SHOP_NAME_MAX);
        }
        else {
            FUZZ_CHECK(s == NULL && detail != NULL);
        }

        detail = NULL;
        e = shop_json_bool(p, body, key, 1, &present, &b, &detail);
        if (e == SHOP_OK) {
            FUZZ_CHECK(present == 1 && json_is_boolean(value));
            FUZZ_CHECK(b == json_is_true(value));
        }
        else {
            FUZZ_CHECK(present == 0 && detail != NULL);
        }
    }
    /* Absent optional fields. */
    {
        const char *detail = NULL, *s = NULL;
        apr_int64_t n = 0;
        int present = -1, b = 0;

        if (json_object_get(body, "amount") == NULL) {
            FUZZ_CHECK(shop_json_int(p, body, "amount", 0, &present, &n, &detail) == SHOP_OK);
            FUZZ_CHECK(present == 0);
        }
        if (json_object_get(body, "name") == NULL) {
            FUZZ_CHECK(shop_json_string(p, body, "name", 0, SHOP_NAME_MAX, &s, &detail) == SHOP_OK);
            FUZZ_CHECK(s == NULL);
        }
        if (json_object_get(body, "active") == NULL) {
            present = -1;
            FUZZ_CHECK(shop_json_bool(p, body, "active", 0, &present, &b, &detail) == SHOP_OK);
            FUZZ_CHECK(present == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *body = (json_t *)1;
    const char *detail = NULL;
    char *text;
    shop_err e;

    e = shop_json_parse_object(p, (const char *)data, size, &body, &detail);
    if (e != SHOP_OK) {
        FUZZ_CHECK(e == SHOP_E_INVALID_REQUEST && body == NULL && detail != NULL);
    }
    else {
        const char *dumped;
        json_t *again;

        FUZZ_CHECK(json_is_object(body));
        check_items(p, body);
        check_fields(p, body);
        /* The compact dump parses back to the same document. */
        dumped = shop_json_dump(p, body);
        again = json_loads(dumped, JSON_REJECT_DUPLICATES, NULL);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(json_equal(again, body));
        json_decref(again);
    }

    text = fuzz_cstr(p, data, size);
    {
        const char *c = shop_json_compact(p, text);
        FUZZ_CHECK(c != NULL);
    }
    {
        shop_err code = (shop_err)(size % (SHOP_E__COUNT + 3));
        json_t *doc = shop_problem_doc(p, code, text);
        const json_t *d;

        FUZZ_CHECK(doc != NULL);
        d = json_object_get(doc, "detail");
        FUZZ_CHECK(json_is_string(d));
        FUZZ_CHECK(json_integer_value(json_object_get(doc, "status")) >= 200);
        (void)shop_json_dump(p, doc);
    }
    {
        shop_err f = shop_err_from_code(text);
        FUZZ_CHECK(f >= SHOP_OK && f < SHOP_E__COUNT);
        if (f != SHOP_E_INTERNAL) {
            FUZZ_CHECK(strcmp(shop_err_get(f)->code, text) == 0);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
