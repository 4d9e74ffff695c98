/*
 * Rendering the popular ranking (shop_popular.c) from fuzzed rows: the
 * window and generated_at (8 bytes each), then items of product_id, price,
 * stock, sold (8 bytes each) and a name (1 length byte, then that many
 * bytes; any bytes, not only UTF-8).  The output must be one JSON object
 * with every item whose name is a valid string, ranked 1..n in order.
 */
#include "fuzz.h"

#include <jansson.h>

#include "shop_popular.h"

#define MAX_ITEMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_interval_time_t window = (apr_interval_time_t)fuzz_take_u64(&data, &size);
    apr_time_t at = (apr_time_t)fuzz_take_u64(&data, &size);
    shop_popular_item items[MAX_ITEMS];
    int count = 0, valid = 1, i;
    const char *out;
    json_t *doc, *list;

    while (size > 0 && count < MAX_ITEMS) {
        shop_popular_item *it = &items[count++];
        size_t nl;

        it->product_id = (apr_int64_t)fuzz_take_u64(&data, &size);
        it->price = (apr_int64_t)fuzz_take_u64(&data, &size);
        it->stock = (apr_int64_t)fuzz_take_u64(&data, &size);
        it->sold = (apr_int64_t)fuzz_take_u64(&data, &size);
        nl = fuzz_take_u8(&data, &size);
        if (nl > size) {
            nl = size;
        }
        it->name = apr_pstrmemdup(p, (const char *)data, nl);
        data += nl;
        size -= nl;
        {
            json_t *s = json_string(it->name);     /* NULL: not UTF-8 */
            valid &= s != NULL;
            json_decref(s);
        }
    }

    out = shop_popular_render(p, window, at, items, count);
    FUZZ_CHECK(out != NULL);
    doc = json_loads(out, 0, NULL);
    FUZZ_CHECK(json_is_object(doc));
    FUZZ_CHECK(json_is_number(json_object_get(doc, "window_days")));
    FUZZ_CHECK(json_is_string(json_object_get(doc, "generated_at")));
    list = json_object_get(doc, "items");
    FUZZ_CHECK(json_is_array(list));
    if (valid) {
        FUZZ_CHECK(json_array_size(list) == (size_t)count);
        for (i = 0; i < count; i++) {
            json_t *o = json_array_get(list, i);

            FUZZ_CHECK(json_integer_value(json_object_get(o, "rank")) == i + 1);
            FUZZ_CHECK(json_integer_value(json_object_get(o, "product_id"))
                       == items[i].product_id);
            FUZZ_CHECK(strcmp(json_string_value(json_object_get(o, "name")),
                              items[i].name) == 0);
        }
    }
    json_decref(doc);

    out = shop_popular_render_empty(p, window);
    doc = json_loads(out, 0, NULL);
    FUZZ_CHECK(json_is_object(doc));
    FUZZ_CHECK(json_is_null(json_object_get(doc, "generated_at")));
    FUZZ_CHECK(json_array_size(json_object_get(doc, "items")) == 0);
    json_decref(doc);

    apr_pool_destroy(p);
    return 0;
}
