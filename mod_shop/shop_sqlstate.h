/*
 * What a PostgreSQL SQLSTATE means to mod_shop: the one place that reads
 * the five characters.  Plain string logic, no httpd, no libpq, so it is
 * unit-tested (tests/unit/test_sqlstate.c); the glue (mod_shop_db.c,
 * mod_shop_tx.c, the handlers) decides what each class does.
 */
#ifndef SHOP_SQLSTATE_H
#define SHOP_SQLSTATE_H

typedef enum {
    SHOP_SQLSTATE_OTHER = 0,    /* anything below: a failure, 500 */
    SHOP_SQLSTATE_RETRY,        /* 40001 serialization failure, 40P01 deadlock:
                                 * redo the unit of work */
    SHOP_SQLSTATE_CONN_LOST,    /* class 08, the other 57P* (57P04 database
                                 * dropped, 57P05 idle session timeout): the
                                 * connection is unusable, reset it */
    SHOP_SQLSTATE_FAILOVER,     /* 25006 read-only transaction (the server is
                                 * a standby now), 57P01 admin shutdown,
                                 * 57P02 crash shutdown, 57P03 cannot connect
                                 * now: the server is going away or is not
                                 * the primary; a new one is seconds off */
    SHOP_SQLSTATE_UNAVAILABLE,  /* 53300 too_many_connections: 503 */
    SHOP_SQLSTATE_BUSY,         /* 55P03 lock_not_available, 57014
                                 * query_canceled (lock or statement
                                 * timeout): roll back, 503 BUSY */
    SHOP_SQLSTATE_NO_STATEMENT, /* 26000: a prepared statement is gone */
    SHOP_SQLSTATE_DATA,         /* class 22: a value the database cannot
                                 * take (400) */
    SHOP_SQLSTATE_UNIQUE,       /* 23505 unique_violation */
    SHOP_SQLSTATE_INTEGRITY,    /* any other class 23 (a CHECK, a foreign key) */
    SHOP_SQLSTATE_SCHEMA        /* 42P01 undefined_table, 42883
                                 * undefined_function: the schema does not
                                 * match the module (503 SCHEMA_MISMATCH) */
} shop_sqlstate_class;

/* The class of a SQLSTATE; NULL or "" (no state known) is OTHER. */
shop_sqlstate_class shop_sqlstate_classify(const char *state);

/* What becomes of a session after a failed statement. */
typedef enum {
    SHOP_SESSION_KEEP = 0,      /* the session is fine (the error is the
                                 * statement's own) */
    SHOP_SESSION_REDO,          /* reset it; the unit of work may run again
                                 * (its transaction was rolled back) */
    SHOP_SESSION_GIVE_UP        /* drop it; the request answers 503 with
                                 * Retry-After and is not redone here */
} shop_session_fate;

/*
 * The fate of the session after a statement failed with `state` (NULL or
 * "" if none), `conn_bad` when libpq says the connection is gone, and
 * `committing` when the statement was a commit: COMMIT itself, or any
 * statement outside a transaction block (it commits by itself).
 */
shop_session_fate shop_sqlstate_session(const char *state, int conn_bad,
                                        int committing);

#endif
