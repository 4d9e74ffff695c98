/*
 * Unit tests of shop_sqlstate.c: every class, and the states next to them
 * that must not fall into them.
 */
#include "unit.h"

#include "shop_sqlstate.h"

#define CLASSES (SHOP_SQLSTATE_SCHEMA + 1)

static const struct {
    const char *state;
    shop_sqlstate_class cls;
} cases[] = {
    {"40001", SHOP_SQLSTATE_RETRY},         /* serialization_failure */
    {"40P01", SHOP_SQLSTATE_RETRY},         /* deadlock_detected */
    {"40000", SHOP_SQLSTATE_OTHER},         /* transaction_rollback: not retried */
    {"40002", SHOP_SQLSTATE_OTHER},
    {"40003", SHOP_SQLSTATE_OTHER},
    {"08000", SHOP_SQLSTATE_CONN_LOST},
    {"08003", SHOP_SQLSTATE_CONN_LOST},
    {"08006", SHOP_SQLSTATE_CONN_LOST},
    {"08P01", SHOP_SQLSTATE_CONN_LOST},
    {"0800", SHOP_SQLSTATE_CONN_LOST},      /* the class is what counts */
    {"08", SHOP_SQLSTATE_CONN_LOST},
    {"57P01", SHOP_SQLSTATE_FAILOVER},      /* admin_shutdown */
    {"57P02", SHOP_SQLSTATE_FAILOVER},      /* crash_shutdown */
    {"57P03", SHOP_SQLSTATE_FAILOVER},      /* cannot_connect_now */
    {"57P04", SHOP_SQLSTATE_CONN_LOST},     /* database_dropped: as before */
    {"57P05", SHOP_SQLSTATE_CONN_LOST},     /* idle_session_timeout */
    {"57P0", SHOP_SQLSTATE_CONN_LOST},      /* a truncated 57P01 is only the class */
    {"57P01x", SHOP_SQLSTATE_CONN_LOST},    /* a longer one too */
    {"25006", SHOP_SQLSTATE_FAILOVER},      /* read_only_sql_transaction */
    {"25006x", SHOP_SQLSTATE_OTHER},
    {"25001", SHOP_SQLSTATE_OTHER},
    {"25P02", SHOP_SQLSTATE_OTHER},         /* in_failed_sql_transaction */
    {"57000", SHOP_SQLSTATE_OTHER},
    {"53300", SHOP_SQLSTATE_UNAVAILABLE},   /* too_many_connections */
    {"53000", SHOP_SQLSTATE_OTHER},
    {"53100", SHOP_SQLSTATE_OTHER},         /* disk_full */
    {"53200", SHOP_SQLSTATE_OTHER},
    {"55P03", SHOP_SQLSTATE_BUSY},          /* lock_not_available */
    {"57014", SHOP_SQLSTATE_BUSY},          /* query_canceled: a timeout */
    {"55000", SHOP_SQLSTATE_OTHER},
    {"55006", SHOP_SQLSTATE_OTHER},
    {"57015", SHOP_SQLSTATE_OTHER},
    {"26000", SHOP_SQLSTATE_NO_STATEMENT},  /* invalid_sql_statement_name */
    {"26001", SHOP_SQLSTATE_OTHER},
    {"42P05", SHOP_SQLSTATE_OTHER},
    {"22000", SHOP_SQLSTATE_DATA},
    {"22003", SHOP_SQLSTATE_DATA},          /* numeric_value_out_of_range */
    {"22007", SHOP_SQLSTATE_DATA},          /* invalid_datetime_format */
    {"22P02", SHOP_SQLSTATE_DATA},
    {"2200", SHOP_SQLSTATE_DATA},
    {"21000", SHOP_SQLSTATE_OTHER},
    {"23505", SHOP_SQLSTATE_UNIQUE},
    {"23514", SHOP_SQLSTATE_INTEGRITY},     /* check_violation */
    {"23503", SHOP_SQLSTATE_INTEGRITY},     /* foreign_key_violation */
    {"23000", SHOP_SQLSTATE_INTEGRITY},
    {"24000", SHOP_SQLSTATE_OTHER},
    {"42P01", SHOP_SQLSTATE_SCHEMA},        /* undefined_table */
    {"42883", SHOP_SQLSTATE_SCHEMA},        /* undefined_function */
    {"42P02", SHOP_SQLSTATE_OTHER},         /* undefined_parameter */
    {"42703", SHOP_SQLSTATE_OTHER},         /* undefined_column: a bug, not a schema */
    {NULL, SHOP_SQLSTATE_OTHER},
    {"", SHOP_SQLSTATE_OTHER},
    {"0", SHOP_SQLSTATE_OTHER},
    {"42601", SHOP_SQLSTATE_OTHER},         /* syntax_error */
    {"P0001", SHOP_SQLSTATE_OTHER},         /* raise_exception */
    {"XX000", SHOP_SQLSTATE_OTHER},
    {"00000", SHOP_SQLSTATE_OTHER},
    {"4000", SHOP_SQLSTATE_OTHER},          /* a truncated 40001 is not one */
    {"40001x", SHOP_SQLSTATE_OTHER},        /* nor a longer one */
};

/* Every case of one class, and every case that says it is another. */
static void check_class(shop_sqlstate_class cls)
{
    apr_size_t i;
    int seen = 0;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        shop_sqlstate_class got = shop_sqlstate_classify(cases[i].state);
        if ((got == cls || cases[i].cls == cls) && got != cases[i].cls) {
            fail_msg("%s: class %d, want %d", cases[i].state ? cases[i].state : "NULL",
                     (int)got, (int)cases[i].cls);
        }
        seen += cases[i].cls == cls;
    }
    assert_true(seen > 0);
}

static void test_retry(void **state)        { (void)state; check_class(SHOP_SQLSTATE_RETRY); }
static void test_conn_lost(void **state)    { (void)state; check_class(SHOP_SQLSTATE_CONN_LOST); }
static void test_failover(void **state)     { (void)state; check_class(SHOP_SQLSTATE_FAILOVER); }
static void test_unavailable(void **state)  { (void)state; check_class(SHOP_SQLSTATE_UNAVAILABLE); }
static void test_busy(void **state)         { (void)state; check_class(SHOP_SQLSTATE_BUSY); }
static void test_no_statement(void **state) { (void)state; check_class(SHOP_SQLSTATE_NO_STATEMENT); }
static void test_data(void **state)         { (void)state; check_class(SHOP_SQLSTATE_DATA); }
static void test_unique(void **state)       { (void)state; check_class(SHOP_SQLSTATE_UNIQUE); }
static void test_integrity(void **state)    { (void)state; check_class(SHOP_SQLSTATE_INTEGRITY); }
static void test_schema(void **state)       { (void)state; check_class(SHOP_SQLSTATE_SCHEMA); }
static void test_other(void **state)        { (void)state; check_class(SHOP_SQLSTATE_OTHER); }

/*
 * The session's fate: (state, connection bad, committing) -> fate.  A
 * commit whose session went away is never redone (it may have committed);
 * a failover state is never redone; a statement's own error keeps it.
 */
static void test_session_fate(void **state)
{
    static const struct {
        const char *state;
        int bad, committing;
        shop_session_fate want;
    } f[] = {
        {"25006", 0, 0, SHOP_SESSION_GIVE_UP},  /* a standby: nothing was written */
        {"25006", 0, 1, SHOP_SESSION_GIVE_UP},
        {"57P01", 1, 0, SHOP_SESSION_GIVE_UP},  /* shut down inside a transaction */
        {"57P01", 1, 1, SHOP_SESSION_GIVE_UP},  /* in COMMIT: maybe committed */
        {"57P02", 1, 0, SHOP_SESSION_GIVE_UP},
        {"57P03", 1, 1, SHOP_SESSION_GIVE_UP},
        {"08006", 1, 0, SHOP_SESSION_REDO},     /* lost inside BEGIN..: rolled back */
        {"08006", 1, 1, SHOP_SESSION_GIVE_UP},  /* lost in COMMIT: unknown */
        {"", 1, 0, SHOP_SESSION_REDO},          /* gone without a word */
        {"", 1, 1, SHOP_SESSION_GIVE_UP},
        {NULL, 1, 1, SHOP_SESSION_GIVE_UP},
        {"57P04", 0, 0, SHOP_SESSION_REDO},
        {"57P05", 0, 1, SHOP_SESSION_GIVE_UP},
        {"40001", 0, 0, SHOP_SESSION_KEEP},     /* the retry is shop_run's, not the session's */
        {"40001", 0, 1, SHOP_SESSION_KEEP},
        {"23505", 0, 1, SHOP_SESSION_KEEP},
        {"57014", 0, 0, SHOP_SESSION_KEEP},
        {"", 0, 0, SHOP_SESSION_KEEP},
        {NULL, 0, 1, SHOP_SESSION_KEEP},
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        shop_session_fate got = shop_sqlstate_session(f[i].state, f[i].bad, f[i].committing);
        if (got != f[i].want) {
            fail_msg("%s bad=%d committing=%d: fate %d, want %d",
                     f[i].state ? f[i].state : "NULL", f[i].bad, f[i].committing,
                     (int)got, (int)f[i].want);
        }
    }
}

/* A class added to the enum gets cases here (the tests above name each). */
static void test_every_class_has_cases(void **state)
{
    int cls;

    (void)state;
    for (cls = 0; cls < CLASSES; cls++) {
        check_class((shop_sqlstate_class)cls);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_retry),
        UNIT_TEST(test_conn_lost),
        UNIT_TEST(test_failover),
        UNIT_TEST(test_unavailable),
        UNIT_TEST(test_busy),
        UNIT_TEST(test_no_statement),
        UNIT_TEST(test_data),
        UNIT_TEST(test_unique),
        UNIT_TEST(test_integrity),
        UNIT_TEST(test_schema),
        UNIT_TEST(test_other),
        UNIT_TEST(test_every_class_has_cases),
        UNIT_TEST(test_session_fate),
    };

    return UNIT_RUN("sqlstate", tests);
}
