/*
 * Unit tests of shop_route.c: matching, parameter capture, 404 vs 405 and
 * the Allow header.
 */
#include "unit.h"

#include "shop_route.h"

enum {
    T_POINTS, T_CHARGE, T_HISTORY, T_PRODUCTS, T_POPULAR, T_PRODUCT,
    T_ADMIN_CREATE, T_ADMIN_PATCH
};

/* Like the glue's table: a shop_route first, the handler data after it. */
typedef struct {
    shop_route route;
    int tag;
} test_route;

static const test_route routes[] = {
    {{SHOP_METHOD_GET,   "/users/{userId}/points"},          T_POINTS},
    {{SHOP_METHOD_POST,  "/users/{userId}/points/charge"},   T_CHARGE},
    {{SHOP_METHOD_GET,   "/users/{userId}/points/history"},  T_HISTORY},
    {{SHOP_METHOD_GET,   "/products"},                       T_PRODUCTS},
    {{SHOP_METHOD_GET,   "/products/popular"},               T_POPULAR},
    {{SHOP_METHOD_GET,   "/products/{productId}"},           T_PRODUCT},
    {{SHOP_METHOD_POST,  "/admin/products"},                 T_ADMIN_CREATE},
    {{SHOP_METHOD_PATCH, "/admin/products/{productId}"},     T_ADMIN_PATCH},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static shop_route_result find(apr_pool_t *p, int method, const char *path,
                              shop_route_match *m)
{
    memset(m, 0x5a, sizeof(*m));    /* garbage: the function must set it */
    return shop_route_find(p, routes, NROUTES, sizeof(test_route), method,
                           path, m);
}

static int tag_of(const shop_route_match *m)
{
    assert_in_range(m->index, 0, NROUTES - 1);
    return routes[m->index].tag;
}

static void expect_match(apr_pool_t *p, int method, const char *path, int tag,
                         const char *param)
{
    shop_route_match m;
    shop_route_result r = find(p, method, path, &m);

    if (r != SHOP_ROUTE_MATCHED) {
        fail_msg("%s: expected a match, got %d", path, (int)r);
    }
    if (tag_of(&m) != tag) {
        fail_msg("%s: matched entry %d (tag %d), expected tag %d", path,
                 m.index, tag_of(&m), tag);
    }
    if (param) {
        assert_int_equal(m.nparams, 1);
        assert_non_null(m.params[0]);
        assert_string_equal(m.params[0], param);
    }
    else {
        assert_int_equal(m.nparams, 0);
    }
    assert_true(m.allowed & method);
}

static void test_matches_with_params(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    expect_match(p, SHOP_METHOD_GET, "/users/7/points", T_POINTS, "7");
    expect_match(p, SHOP_METHOD_POST, "/users/12/points/charge", T_CHARGE, "12");
    expect_match(p, SHOP_METHOD_GET, "/users/3/points/history", T_HISTORY, "3");
    expect_match(p, SHOP_METHOD_GET, "/products", T_PRODUCTS, NULL);
    expect_match(p, SHOP_METHOD_GET, "/products/42", T_PRODUCT, "42");
    expect_match(p, SHOP_METHOD_POST, "/admin/products", T_ADMIN_CREATE, NULL);
    expect_match(p, SHOP_METHOD_PATCH, "/admin/products/9", T_ADMIN_PATCH, "9");
}

static void test_params_are_raw_segments(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    /* The router captures; validating the id is the handler's job. */
    expect_match(p, SHOP_METHOD_GET, "/users/abc/points", T_POINTS, "abc");
    expect_match(p, SHOP_METHOD_GET, "/users/-1/points", T_POINTS, "-1");
    expect_match(p, SHOP_METHOD_GET, "/users/%2F/points", T_POINTS, "%2F");
    expect_match(p, SHOP_METHOD_GET, "/products/9223372036854775808", T_PRODUCT,
                 "9223372036854775808");
    expect_match(p, SHOP_METHOD_GET, "/products/Popular", T_PRODUCT, "Popular");
    expect_match(p, SHOP_METHOD_GET, "/products/popularx", T_PRODUCT, "popularx");
}

static void test_literal_before_placeholder(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_route_match m;

    assert_int_equal(find(p, SHOP_METHOD_GET, "/products/popular", &m),
                     SHOP_ROUTE_MATCHED);
    assert_int_equal(tag_of(&m), T_POPULAR);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(m.allowed, SHOP_METHOD_GET);
}

static void test_not_found(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const char *const paths[] = {
        "/", "", "/nope", "/products/1/extra", "/users//points", "/products/",
        "products", "//products", "/products//", "/Products", "/products/1/",
        "/users/1/points/", "/users/points", "/users/1", "/users/1/points/x",
        "/users/1/points/charge/x", "/admin", "/admin/", "/admin/products/",
        "/admin/products/1/x", "/products/popular/1", "/productsx",
        "/users/{userId}/point", "/products/1//",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int methods[] = {SHOP_METHOD_GET, SHOP_METHOD_POST, SHOP_METHOD_PATCH,
                         SHOP_METHOD_OTHER};
        apr_size_t k;
        for (k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
            shop_route_match m;
            shop_route_result r = find(p, methods[k], paths[i], &m);
            if (r != SHOP_ROUTE_NO_PATH) {
                fail_msg("\"%s\" (method %d): expected 404, got %d (index %d)",
                         paths[i], methods[k], (int)r, m.index);
            }
            assert_int_equal(m.index, -1);
            assert_int_equal(m.allowed, 0);
            assert_int_equal(m.nparams, 0);
        }
    }
}

static void expect_405(apr_pool_t *p, int method, const char *path, int allowed)
{
    shop_route_match m;
    shop_route_result r = find(p, method, path, &m);

    if (r != SHOP_ROUTE_NO_METHOD) {
        fail_msg("%s: expected 405, got %d", path, (int)r);
    }
    assert_int_equal(m.index, -1);
    assert_int_equal(m.allowed, allowed);
}

static void test_method_not_allowed(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    expect_405(p, SHOP_METHOD_POST, "/products/1", SHOP_METHOD_GET);
    expect_405(p, SHOP_METHOD_PATCH, "/products/1", SHOP_METHOD_GET);
    expect_405(p, SHOP_METHOD_GET, "/users/1/points/charge", SHOP_METHOD_POST);
    expect_405(p, SHOP_METHOD_POST, "/users/1/points", SHOP_METHOD_GET);
    expect_405(p, SHOP_METHOD_OTHER, "/products", SHOP_METHOD_GET);
    expect_405(p, SHOP_METHOD_POST, "/products/popular", SHOP_METHOD_GET);
    expect_405(p, SHOP_METHOD_GET, "/admin/products", SHOP_METHOD_POST);
    expect_405(p, SHOP_METHOD_GET, "/admin/products/5", SHOP_METHOD_PATCH);
    expect_405(p, SHOP_METHOD_POST, "/admin/products/5", SHOP_METHOD_PATCH);
}

static void test_allowed_is_union_of_path_matches(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    typedef struct {
        shop_route route;
        char pad[13];   /* odd stride: entries are found by stride only */
        int tag;
    } wide_route;
    static const wide_route tbl[] = {
        {{SHOP_METHOD_GET,   "/orders/{orderId}"},  "", 0},
        {{SHOP_METHOD_PATCH, "/orders/{orderId}"},  "", 1},
        {{SHOP_METHOD_GET,   "/orders/{x}"},        "", 2},  /* shadowed */
        {{SHOP_METHOD_POST,  "/orders"},            "", 3},
        {{SHOP_METHOD_GET,   "/a/{b}/{c}/{d}"},     "", 4},
        {{SHOP_METHOD_GET,   "/a/{b}/{c}/{d}/{e}"}, "", 5},  /* > MAX_PARAMS */
    };
    shop_route_match m;

    assert_int_equal(shop_route_find(p, tbl, 6, sizeof(wide_route),
                                     SHOP_METHOD_POST, "/orders/5", &m),
                     SHOP_ROUTE_NO_METHOD);
    assert_int_equal(m.allowed, SHOP_METHOD_GET | SHOP_METHOD_PATCH);
    assert_string_equal(shop_route_allow_header(p, m.allowed), "GET, HEAD, PATCH");

    /* earlier entries win */
    assert_int_equal(shop_route_find(p, tbl, 6, sizeof(wide_route),
                                     SHOP_METHOD_GET, "/orders/5", &m),
                     SHOP_ROUTE_MATCHED);
    assert_int_equal(m.index, 0);
    assert_int_equal(tbl[m.index].tag, 0);
    assert_string_equal(m.params[0], "5");

    assert_int_equal(shop_route_find(p, tbl, 6, sizeof(wide_route),
                                     SHOP_METHOD_PATCH, "/orders/5", &m),
                     SHOP_ROUTE_MATCHED);
    assert_int_equal(m.index, 1);

    /* count limits the walk */
    assert_int_equal(shop_route_find(p, tbl, 3, sizeof(wide_route),
                                     SHOP_METHOD_POST, "/orders", &m),
                     SHOP_ROUTE_NO_PATH);
    assert_int_equal(shop_route_find(p, tbl, 0, sizeof(wide_route),
                                     SHOP_METHOD_GET, "/orders/1", &m),
                     SHOP_ROUTE_NO_PATH);

    /* SHOP_ROUTE_MAX_PARAMS placeholders are captured in order */
    assert_int_equal(shop_route_find(p, tbl, 6, sizeof(wide_route),
                                     SHOP_METHOD_GET, "/a/x/yy/zzz", &m),
                     SHOP_ROUTE_MATCHED);
    assert_int_equal(m.index, 4);
    assert_int_equal(m.nparams, 3);
    assert_string_equal(m.params[0], "x");
    assert_string_equal(m.params[1], "yy");
    assert_string_equal(m.params[2], "zzz");

    /* one more than fits never matches (and never writes past params[]) */
    assert_int_equal(shop_route_find(p, tbl, 6, sizeof(wide_route),
                                     SHOP_METHOD_GET, "/a/1/2/3/4", &m),
                     SHOP_ROUTE_NO_PATH);
}

static void test_allow_header(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_GET), "GET, HEAD");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_POST), "POST");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_GET | SHOP_METHOD_POST),
                        "GET, HEAD, POST");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_PATCH), "PATCH");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_POST | SHOP_METHOD_PATCH),
                        "POST, PATCH");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_GET | SHOP_METHOD_POST
                                                   | SHOP_METHOD_PATCH),
                        "GET, HEAD, POST, PATCH");
    assert_string_equal(shop_route_allow_header(p, 0), "");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_OTHER), "");
    assert_string_equal(shop_route_allow_header(p, SHOP_METHOD_GET | SHOP_METHOD_OTHER),
                        "GET, HEAD");
}

static void test_405_allow_header_from_table(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_route_match m;

    assert_int_equal(find(p, SHOP_METHOD_POST, "/products/1", &m),
                     SHOP_ROUTE_NO_METHOD);
    assert_string_equal(shop_route_allow_header(p, m.allowed), "GET, HEAD");
    assert_int_equal(find(p, SHOP_METHOD_GET, "/users/1/points/charge", &m),
                     SHOP_ROUTE_NO_METHOD);
    assert_string_equal(shop_route_allow_header(p, m.allowed), "POST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_matches_with_params),
        UNIT_TEST(test_params_are_raw_segments),
        UNIT_TEST(test_literal_before_placeholder),
        UNIT_TEST(test_not_found),
        UNIT_TEST(test_method_not_allowed),
        UNIT_TEST(test_allowed_is_union_of_path_matches),
        UNIT_TEST(test_allow_header),
        UNIT_TEST(test_405_allow_header_from_table),
    };

    return UNIT_RUN("shop_route", tests);
}
