/*
 * Unit tests of shop_schema.c: the verdict and the text that names what
 * differs between the module's migrations and the database's.
 */
#include "unit.h"

#include "shop_schema.h"

static const char *const module[] = { "001_core.sql", "002_orders.sql", "003_sales.sql" };
#define N_MODULE 3

static void test_match_in_any_order(void **state)
{
    const char *const db[] = { "003_sales.sql", "001_core.sql", "002_orders.sql" };
    char detail[128];

    (void)state;
    assert_int_equal(shop_schema_compare(module, N_MODULE, db, 3, detail, sizeof(detail)),
                     SHOP_SCHEMA_MATCH);
    assert_string_equal(detail, "");
}

static void test_none_applied(void **state)
{
    char detail[128];

    (void)state;
    assert_int_equal(shop_schema_compare(module, N_MODULE, NULL, 0, detail, sizeof(detail)),
                     SHOP_SCHEMA_NONE);
    assert_string_equal(detail, "no migration is applied (the module needs 3); "
                                "run mod-shop-migrate");
}

static void test_missing_newest(void **state)
{
    const char *const db[] = { "001_core.sql", "002_orders.sql" };
    char detail[128];

    (void)state;
    assert_int_equal(shop_schema_compare(module, N_MODULE, db, 2, detail, sizeof(detail)),
                     SHOP_SCHEMA_MISSING);
    assert_string_equal(detail, "migrations not applied: 003_sales.sql; run mod-shop-migrate");
}

static void test_newer_than_module(void **state)
{
    const char *const db[] = { "001_core.sql", "002_orders.sql", "003_sales.sql",
                               "004_next.sql" };
    char detail[160];

    (void)state;
    assert_int_equal(shop_schema_compare(module, N_MODULE, db, 4, detail, sizeof(detail)),
                     SHOP_SCHEMA_NEWER);
    assert_non_null(strstr(detail, "migrations unknown to this module: 004_next.sql"));
    assert_non_null(strstr(detail, "upgrade the module"));
}

/* Missing wins (the module's statements cannot run), and both are named. */
static void test_missing_and_unknown(void **state)
{
    const char *const db[] = { "001_core.sql", "009_other.sql" };
    char detail[200];

    (void)state;
    assert_int_equal(shop_schema_compare(module, N_MODULE, db, 2, detail, sizeof(detail)),
                     SHOP_SCHEMA_MISSING);
    assert_string_equal(detail, "migrations not applied: 002_orders.sql, 003_sales.sql; "
                                "migrations unknown to this module: 009_other.sql; "
                                "run mod-shop-migrate");
}

/* A text longer than the buffer is cut, terminated, and says so. */
static void test_long_text_is_cut(void **state)
{
    const char *const db[] = { "001_core.sql" };
    char detail[24];

    (void)state;
    memset(detail, 'x', sizeof(detail));
    assert_int_equal(shop_schema_compare(module, N_MODULE, db, 1, detail, sizeof(detail)),
                     SHOP_SCHEMA_MISSING);
    assert_int_equal(strlen(detail), sizeof(detail) - 1);
    assert_string_equal(detail + sizeof(detail) - 4, "...");
}

static void test_serves(void **state)
{
    (void)state;
    assert_true(shop_schema_serves(SHOP_SCHEMA_UNKNOWN));
    assert_true(shop_schema_serves(SHOP_SCHEMA_MATCH));
    assert_true(shop_schema_serves(SHOP_SCHEMA_NEWER));
    assert_false(shop_schema_serves(SHOP_SCHEMA_NONE));
    assert_false(shop_schema_serves(SHOP_SCHEMA_MISSING));
}

static void test_words(void **state)
{
    (void)state;
    assert_string_equal(shop_schema_word(SHOP_SCHEMA_MATCH), "match");
    assert_string_equal(shop_schema_word(SHOP_SCHEMA_NONE), "none");
    assert_string_equal(shop_schema_word(SHOP_SCHEMA_MISSING), "missing");
    assert_string_equal(shop_schema_word(SHOP_SCHEMA_NEWER), "newer");
    assert_string_equal(shop_schema_word(SHOP_SCHEMA_UNKNOWN), "unknown");
    assert_string_equal(shop_schema_word((shop_schema_state)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_match_in_any_order),
        UNIT_TEST(test_none_applied),
        UNIT_TEST(test_missing_newest),
        UNIT_TEST(test_newer_than_module),
        UNIT_TEST(test_missing_and_unknown),
        UNIT_TEST(test_long_text_is_cut),
        UNIT_TEST(test_serves),
        UNIT_TEST(test_words),
    };

    return UNIT_RUN("schema", tests);
}
