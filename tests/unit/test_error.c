/*
 * Unit tests of shop_error.c: the error table and its HTTP mapping.
 */
#include "unit.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "shop_error.h"

static void test_every_code_is_well_formed(void **state)
{
    int e;

    (void)state;
    for (e = SHOP_OK; e < SHOP_E__COUNT; e++) {
        const shop_err_info *info = shop_err_get((shop_err)e);
        const char *c;

        assert_non_null(info);
        assert_non_null(info->code);
        assert_non_null(info->title);
        if (info->code[0] == '\0' || info->title[0] == '\0') {
            fail_msg("error %d has an empty code or title", e);
        }
        /* codes are UPPER_SNAKE_CASE identifiers */
        for (c = info->code; *c; c++) {
            if (!(isupper((unsigned char)*c) || *c == '_')) {
                fail_msg("error %d: code \"%s\" is not UPPER_SNAKE", e, info->code);
            }
        }
        if (e == SHOP_OK) {
            assert_int_equal(info->status, 200);
        }
        else if (info->status < 400 || info->status > 599) {
            fail_msg("error %d (%s): status %d is not 4xx/5xx", e, info->code,
                     info->status);
        }
    }
}

/*
 * The SQL functions answer with outcome codes (the .sql files of sql/functions,
 * `outcome := 'SOLD_OUT'`), which the glue maps with shop_err_from_code:
 * every code they can return must be in the table, and every business
 * refusal (409) in the table must come from them or from the two that C
 * produces itself.  Run from the checkout (make unit does).
 */
#define MIGRATIONS "sql/functions"

static int sql_outcomes(char found[][64], int max)
{
    DIR *dir = opendir(MIGRATIONS);
    struct dirent *de;
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        char path[512], line[4096];
        FILE *f;
        if (strstr(de->d_name, ".sql") == NULL) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", MIGRATIONS, de->d_name);
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            char *at = strstr(line, "outcome := '");
            char code[64];
            if (at && sscanf(at, "outcome := '%63[A-Z_]'", code) == 1 && n < max) {
                strcpy(found[n++], code);
            }
        }
        fclose(f);
    }
    closedir(dir);
    return n;
}

static void test_sql_outcomes_map_both_ways(void **state)
{
    static char found[512][64];
    static const char *from_c[] = { "BALANCE_LIMIT_EXCEEDED", "LOGIN_TAKEN" };
    int n = sql_outcomes(found, 512), i, e;

    (void)state;
    assert_true(n > 10);
    for (i = 0; i < n; i++) {
        shop_err err = shop_err_from_code(found[i]);
        /* UNDECIDED: a batch of coupon issues passing a request on to
         * the single issue (shop_issue_coupons.sql); never an answer. */
        if (strcmp(found[i], "OK") == 0 || strcmp(found[i], "UNDECIDED") == 0) {
            continue;
        }
        if (err == SHOP_E_INTERNAL || strcmp(shop_err_get(err)->code, found[i]) != 0) {
            fail_msg("the SQL outcome %s has no error in shop_error.c", found[i]);
        }
    }
    for (e = SHOP_OK + 1; e < SHOP_E__COUNT; e++) {
        const shop_err_info *info = shop_err_get((shop_err)e);
        int seen = 0;
        if (info->status != 409) {
            continue;
        }
        for (i = 0; i < n && !seen; i++) {
            seen = strcmp(found[i], info->code) == 0;
        }
        for (i = 0; i < 2 && !seen; i++) {
            seen = strcmp(from_c[i], info->code) == 0;
        }
        if (!seen) {
            fail_msg("the refusal %s comes from no SQL function and no C path", info->code);
        }
    }
}

static void test_codes_are_unique(void **state)
{
    int a, b;

    (void)state;
    for (a = SHOP_OK; a < SHOP_E__COUNT; a++) {
        for (b = a + 1; b < SHOP_E__COUNT; b++) {
            if (strcmp(shop_err_get((shop_err)a)->code,
                       shop_err_get((shop_err)b)->code) == 0) {
                fail_msg("errors %d and %d share the code %s", a, b,
                         shop_err_get((shop_err)a)->code);
            }
        }
    }
}

static void test_out_of_range_is_internal(void **state)
{
    const shop_err_info *internal = shop_err_get(SHOP_E_INTERNAL);
    static const int values[] = {-1, -1000, SHOP_E__COUNT, SHOP_E__COUNT + 1, 1000,
                                 0x7fffffff, (int)0x80000000u};
    apr_size_t i;

    (void)state;
    assert_string_equal(internal->code, "INTERNAL_ERROR");
    assert_int_equal(internal->status, 500);
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const shop_err_info *info = shop_err_get((shop_err)values[i]);
        assert_non_null(info);
        assert_ptr_equal(info, internal);
        assert_string_equal(info->code, "INTERNAL_ERROR");
        assert_int_equal(info->status, 500);
    }
}

static void test_type_uri(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int e;

    assert_string_equal(shop_err_type_uri(p, SHOP_E_SOLD_OUT),
                        "https://errors.mod-shop.dev/sold_out");
    assert_string_equal(shop_err_type_uri(p, SHOP_E_INVALID_REQUEST),
                        "https://errors.mod-shop.dev/invalid_request");
    assert_string_equal(shop_err_type_uri(p, SHOP_E_INTERNAL),
                        "https://errors.mod-shop.dev/internal_error");
    assert_string_equal(shop_err_type_uri(p, (shop_err)SHOP_E__COUNT),
                        "https://errors.mod-shop.dev/internal_error");
    assert_string_equal(shop_err_type_uri(p, (shop_err)-1),
                        "https://errors.mod-shop.dev/internal_error");

    /* every code: the prefix, then the code lower-cased */
    for (e = SHOP_OK; e < SHOP_E__COUNT; e++) {
        const char *code = shop_err_get((shop_err)e)->code;
        char *want = apr_pstrcat(p, "https://errors.mod-shop.dev/", code, NULL);
        char *c;
        for (c = want + strlen("https://errors.mod-shop.dev/"); *c; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
        assert_string_equal(shop_err_type_uri(p, (shop_err)e), want);
    }
    /* the table itself is not lower-cased in place */
    assert_string_equal(shop_err_get(SHOP_E_SOLD_OUT)->code, "SOLD_OUT");
}

/* The API spec's mapping of codes to statuses. */
static void test_spec_mapping(void **state)
{
    static const struct {
        shop_err e;
        const char *code;
        int status;
    } spec[] = {
        {SHOP_E_INVALID_REQUEST,        "INVALID_REQUEST",        400},
        {SHOP_E_INVALID_AMOUNT,         "INVALID_AMOUNT",         422},
        {SHOP_E_USER_NOT_FOUND,         "USER_NOT_FOUND",         404},
        {SHOP_E_PRODUCT_NOT_FOUND,      "PRODUCT_NOT_FOUND",      404},
        {SHOP_E_BALANCE_LIMIT_EXCEEDED, "BALANCE_LIMIT_EXCEEDED", 409},
        {SHOP_E_OUT_OF_STOCK,           "OUT_OF_STOCK",           409},
        {SHOP_E_ORDER_NOT_PAYABLE,      "ORDER_NOT_PAYABLE",      409},
        {SHOP_E_COUPON_NOT_APPLICABLE,  "COUPON_NOT_APPLICABLE",  409},
        {SHOP_E_INSUFFICIENT_POINTS,    "INSUFFICIENT_POINTS",    409},
        {SHOP_E_ORDER_NOT_CANCELLABLE,  "ORDER_NOT_CANCELLABLE",  409},
        {SHOP_E_COUPON_NOT_FOUND,       "COUPON_NOT_FOUND",       404},
        {SHOP_E_ALREADY_ISSUED,         "ALREADY_ISSUED",         409},
        {SHOP_E_SOLD_OUT,               "SOLD_OUT",               409},
        {SHOP_E_COUPON_NOT_ISSUABLE,    "COUPON_NOT_ISSUABLE",    422},
        {SHOP_E_IDEMPOTENCY_KEY_REUSED, "IDEMPOTENCY_KEY_REUSED", 422},
        {SHOP_E_NOT_FOUND,              "NOT_FOUND",              404},
        {SHOP_E_METHOD_NOT_ALLOWED,     "METHOD_NOT_ALLOWED",     405},
        {SHOP_E_PAYLOAD_TOO_LARGE,      "PAYLOAD_TOO_LARGE",      413},
        {SHOP_E_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", 415},
        {SHOP_E_UNAUTHENTICATED,        "UNAUTHENTICATED",        401},
        {SHOP_E_FORBIDDEN,              "FORBIDDEN",              403},
        {SHOP_E_SERVICE_UNAVAILABLE,    "SERVICE_UNAVAILABLE",    503},
        {SHOP_E_BUSY,                   "BUSY",                   503},
        {SHOP_E_SCHEMA_MISMATCH,        "SCHEMA_MISMATCH",        503},
        {SHOP_E_INTERNAL,               "INTERNAL_ERROR",         500},
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
        const shop_err_info *info = shop_err_get(spec[i].e);
        if (strcmp(info->code, spec[i].code) != 0 || info->status != spec[i].status) {
            fail_msg("error %d: got %s/%d, spec says %s/%d", (int)spec[i].e,
                     info->code, info->status, spec[i].code, spec[i].status);
        }
    }
    /* not in the spec's table, but 4xx and named */
    assert_string_equal(shop_err_get(SHOP_E_ORDER_NOT_FOUND)->code, "ORDER_NOT_FOUND");
    assert_int_equal(shop_err_get(SHOP_E_ORDER_NOT_FOUND)->status, 404);
    assert_string_equal(shop_err_get(SHOP_E_LOGIN_TAKEN)->code, "LOGIN_TAKEN");
    assert_int_equal(shop_err_get(SHOP_E_LOGIN_TAKEN)->status, 409);
    assert_string_equal(shop_err_get(SHOP_E_EVENT_NOT_FOUND)->code, "EVENT_NOT_FOUND");
    assert_int_equal(shop_err_get(SHOP_E_EVENT_NOT_FOUND)->status, 404);
}

static void test_from_code_round_trip(void **state)
{
    int e;

    (void)state;
    for (e = SHOP_OK; e < SHOP_E__COUNT; e++) {
        const char *code = shop_err_get((shop_err)e)->code;
        if ((int)shop_err_from_code(code) != e) {
            fail_msg("shop_err_from_code(\"%s\") = %d, want %d", code,
                     (int)shop_err_from_code(code), e);
        }
    }
    assert_int_equal(shop_err_from_code("NO_SUCH_CODE"), SHOP_E_INTERNAL);
    assert_int_equal(shop_err_from_code(""), SHOP_E_INTERNAL);
    assert_int_equal(shop_err_from_code("sold_out"), SHOP_E_INTERNAL);
    assert_int_equal(shop_err_from_code("SOLD_OUT "), SHOP_E_INTERNAL);
    assert_int_equal(shop_err_from_code("SOLD"), SHOP_E_INTERNAL);
}

/* httpd's own answers under a mount: the code follows the status. */
static void test_for_status(void **state)
{
    static const struct {
        int status;
        shop_err e;
    } cases[] = {
        {400, SHOP_E_INVALID_REQUEST},
        {401, SHOP_E_UNAUTHENTICATED},
        {403, SHOP_E_FORBIDDEN},
        {404, SHOP_E_NOT_FOUND},
        {405, SHOP_E_METHOD_NOT_ALLOWED},
        {408, SHOP_E_INVALID_REQUEST},
        {413, SHOP_E_PAYLOAD_TOO_LARGE},
        {414, SHOP_E_INVALID_REQUEST},
        {415, SHOP_E_UNSUPPORTED_MEDIA_TYPE},
        {431, SHOP_E_INVALID_REQUEST},
        {499, SHOP_E_INVALID_REQUEST},
        {500, SHOP_E_INTERNAL},
        {501, SHOP_E_INTERNAL},
        {502, SHOP_E_INTERNAL},
        {503, SHOP_E_SERVICE_UNAVAILABLE},
        {504, SHOP_E_INTERNAL},
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (shop_err_for_status(cases[i].status) != cases[i].e) {
            fail_msg("status %d: got %s, want %s", cases[i].status,
                     shop_err_get(shop_err_for_status(cases[i].status))->code,
                     shop_err_get(cases[i].e)->code);
        }
    }
}

/* Only the 503s carry Retry-After. */
static void test_retry_after(void **state)
{
    int e;

    (void)state;
    for (e = SHOP_OK; e < SHOP_E__COUNT; e++) {
        int want = e == SHOP_E_SERVICE_UNAVAILABLE || e == SHOP_E_BUSY
                   || e == SHOP_E_SCHEMA_MISMATCH;
        assert_int_equal(shop_err_retry_after((shop_err)e), want);
        assert_int_equal(shop_err_get((shop_err)e)->status == 503, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_every_code_is_well_formed),
        UNIT_TEST(test_codes_are_unique),
        UNIT_TEST(test_sql_outcomes_map_both_ways),
        UNIT_TEST(test_out_of_range_is_internal),
        UNIT_TEST(test_type_uri),
        UNIT_TEST(test_spec_mapping),
        UNIT_TEST(test_for_status),
        UNIT_TEST(test_retry_after),
        UNIT_TEST(test_from_code_round_trip),
    };

    return UNIT_RUN("shop_error", tests);
}
