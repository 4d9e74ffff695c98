/*
 * The database layer (mod_shop_db.c): libpq on mod_dbd's pooled
 * connections.  The connection itself stays inside mod_shop_db.c, so
 * neither mod_dbd.h nor libpq-fe.h comes with this header; results are
 * libpq's PGresult (struct pg_result), read by the files that include
 * libpq-fe.h.  Statements: mod_shop_sql.h.
 */
#ifndef MOD_SHOP_DB_H
#define MOD_SHOP_DB_H

#include "mod_shop.h"
#include "mod_shop_sql.h"

struct pg_result;

typedef enum {
    SHOP_DB_OK = 0,
    SHOP_DB_RETRY,      /* serialization failure, deadlock, lost connection */
    SHOP_DB_DOWN,       /* PostgreSQL unreachable: 503 */
    SHOP_DB_BUSY,       /* a lock or statement timeout: rolled back, 503 BUSY */
    SHOP_DB_SCHEMA,     /* the schema lacks the module's migrations, or a
                         * table or function: 503 SCHEMA_MISMATCH */
    SHOP_DB_FAIL,       /* any other error: see shop_db_sqlstate */
    SHOP_DB_FULL        /* no turn: the write gate refused (mod_shop_gate.c),
                         * 503 BUSY */
} shop_dbrc;

/* A borrowed pooled connection, given back with the request pool. */
typedef struct shop_db shop_db;

int shop_db_init(void);     /* post_config: finds mod_dbd */
shop_dbrc shop_db_open(request_rec *r, shop_db **out);
/* A connection from another server's pool (the status views). */
shop_dbrc shop_db_open_for(request_rec *r, server_rec *s, shop_db **out);
void shop_db_close(shop_db *db);
apr_uint32_t shop_db_in_use(void);    /* this child's borrowed connections */
/* The SQLSTATE of the last failure: "" if none (or db is NULL). */
const char *shop_db_sqlstate(const shop_db *db);
shop_dbrc shop_db_begin(shop_db *db);
shop_dbrc shop_db_commit(shop_db *db);
void shop_db_rollback(shop_db *db);
/* Inside a transaction: mark, and undo back to the mark. */
shop_dbrc shop_db_savepoint(shop_db *db);
shop_dbrc shop_db_undo_to_savepoint(shop_db *db);
/* Runs a prepared statement; *res is released with the request pool. */
shop_dbrc shop_db_exec(shop_db *db, shop_sql id, const char *const *params,
                       struct pg_result **res);

#endif
