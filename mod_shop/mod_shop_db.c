/*
 * The database layer: libpq on mod_dbd's pooled connections.
 *
 * mod_dbd keeps the pool and its configuration (DBDriver, DBDParams,
 * DBDMax...).  The statements themselves go through libpq on the pooled
 * PGconn because apr_dbd's pgsql driver exposes no SQLSTATE, crashes the
 * child when BEGIN fails on a dead connection, and forgets its prepared
 * statements after a reconnect (see the module guide).
 *
 * Prepared statements are created lazily per connection and remembered in
 * the connection's own pool.  A reconnect is noticed by a change of the
 * backend PID, which empties that memory.
 *
 * ShopDBPrepare off runs every statement unnamed instead (PQexecParams:
 * Parse/Bind/Execute of the unnamed statement in one round trip, still
 * with out-of-line parameters), so nothing outlives the statement on the
 * server.  That is what a transaction-pooling PgBouncer (1.18) needs: the
 * next transaction of this client connection may run on another server
 * connection, which never saw a named statement prepared here.  Nothing
 * else in the request path keeps session state between transactions (no
 * SET, no session advisory lock, no temporary table): BEGIN .. COMMIT and
 * the savepoint live inside one transaction, which PgBouncer keeps on one
 * server connection.
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_dbd.h>        /* before mod_dbd.h, which needs its types */
#include <mod_dbd.h>
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_breaker.h"
#include "mod_shop_db.h"
#include "mod_shop_schema.h"
#include "mod_shop_shm.h"
#include "shop_sqlstate.h"

#define CONN_STATE_KEY "mod_shop.conn_state"

typedef struct {
    int backend_pid;
    unsigned char prepared[SQL__COUNT];
} shop_conn_state;

struct shop_db {
    request_rec *r;
    server_rec *s;          /* whose pool the connection came from */
    ap_dbd_t *dbd;
    PGconn *conn;
    shop_conn_state *state;
    int in_tx;
    char sqlstate[6];       /* of the last failure, "" if none */
};

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static apr_uint32_t conns_in_use;      /* this child's borrowed connections */
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

int shop_db_init(void)
{
    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_open_fn && dbd_close_fn;
}

static apr_status_t db_release(void *data)
{
    shop_db *db = data;

    if (db->in_tx) {
        PQclear(PQexec(db->conn, "ROLLBACK"));
        db->in_tx = 0;
    }
    dbd_close_fn(db->s, db->dbd);
    apr_atomic_dec32(&conns_in_use);
    shop_children_note(&conns_in_use, 0);     /* a release never raises the peak */
    return APR_SUCCESS;
}

apr_uint32_t shop_db_in_use(void)
{
    return apr_atomic_read32(&conns_in_use);
}

static apr_status_t result_release(void *data)
{
    PQclear((PGresult *)data);
    return APR_SUCCESS;
}

/* The connection's memory of prepared statements, reset on reconnect. */
static shop_conn_state *conn_state(shop_db *db)
{
    void *data = NULL;
    shop_conn_state *st;
    int pid = PQbackendPID(db->conn);

    apr_pool_userdata_get(&data, CONN_STATE_KEY, db->dbd->pool);
    st = data;
    if (st == NULL) {
        st = apr_pcalloc(db->dbd->pool, sizeof(*st));
        apr_pool_userdata_setn(st, CONN_STATE_KEY, NULL, db->dbd->pool);
    }
    if (st->backend_pid != pid) {
        memset(st->prepared, 0, sizeof(st->prepared));
        st->backend_pid = pid;
    }
    return st;
}

static shop_site *site_of(server_rec *s)
{
    return ((shop_srv_cfg *)ap_get_module_config(s->module_config,
                                                 &shop_module))->site;
}

/* The first line of libpq's message, for a one-line log entry. */
static const char *first_line(apr_pool_t *p, const char *msg)
{
    return apr_pstrndup(p, msg, strcspn(msg, "\r\n"));
}

shop_dbrc shop_db_open(request_rec *r, shop_db **out)
{
    return shop_db_open_for(r, r->server, out);
}

shop_dbrc shop_db_open_for(request_rec *r, server_rec *s, shop_db **out)
{
    shop_site *site = site_of(s);
    ap_dbd_t *dbd;
    shop_db *db;

    *out = NULL;
    if (!shop_schema_serves(shop_schema_now(site))) {
        return SHOP_DB_SCHEMA;  /* known from the schema check: no round trip */
    }
    if (!shop_breaker_allow(r, site)) {
        return SHOP_DB_DOWN;
    }
    dbd = dbd_open_fn(r->pool, s);
    if (dbd == NULL) {
        shop_breaker_failure(r, site, "no connection from mod_dbd's pool");
        return SHOP_DB_DOWN;
    }
    /* apr_atomic_inc32 returns the old value */
    shop_children_note(&conns_in_use, apr_atomic_inc32(&conns_in_use) + 1);
    db = apr_pcalloc(r->pool, sizeof(*db));
    db->r = r;
    db->s = s;
    db->dbd = dbd;
    db->conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    apr_pool_cleanup_register(r->pool, db, db_release, apr_pool_cleanup_null);
    *out = db;
    return SHOP_DB_OK;
}

void shop_db_close(shop_db *db)
{
    if (db) {
        apr_pool_cleanup_run(db->r->pool, db, db_release);
    }
}

const char *shop_db_sqlstate(const shop_db *db)
{
    return db ? db->sqlstate : "";
}

static int sqlstate_is(const shop_db *db, const char *code)
{
    return strcmp(db->sqlstate, code) == 0;
}

/*
 * A lost connection is reset at once so the next attempt (or the next
 * request on this pooled connection) finds a live session.
 */
static shop_dbrc connection_lost(shop_db *db)
{
    db->in_tx = 0;
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        shop_breaker_failure(db->r, site_of(db->s),
                             first_line(db->r->pool, PQerrorMessage(db->conn)));
        return SHOP_DB_DOWN;
    }
    conn_state(db);
    return SHOP_DB_RETRY;
}

/* Maps a finished libpq result to an outcome, keeping good results. */
static shop_dbrc classify(shop_db *db, PGresult *res, PGresult **keep)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;

    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        db->sqlstate[0] = '\0';
        if (keep) {
            apr_pool_cleanup_register(db->r->pool, res, result_release,
                                      apr_pool_cleanup_null);
            *keep = res;
        }
        else {
            PQclear(res);
        }
        return SHOP_DB_OK;
    }
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    apr_cpystrn(db->sqlstate, state ? state : "", sizeof(db->sqlstate));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, db->r,
                  SHOPLOGNO(00007) "SQL failed [%s]: %s", db->sqlstate,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
    PQclear(res);

    if (PQstatus(db->conn) == CONNECTION_BAD) {
        return connection_lost(db);
    }
    switch (shop_sqlstate_classify(db->sqlstate)) {
    case SHOP_SQLSTATE_CONN_LOST:
        return connection_lost(db);
    case SHOP_SQLSTATE_RETRY:
        return SHOP_DB_RETRY;
    case SHOP_SQLSTATE_UNAVAILABLE:
        return SHOP_DB_DOWN;
    case SHOP_SQLSTATE_BUSY:
        /* A statement timeout may also be a database that hangs: the
         * breaker's probe finds out (a lock timeout is only contention). */
        if (sqlstate_is(db, "57014")) {
            shop_breaker_failure(db->r, site_of(db->s), "statement timeout");
        }
        return SHOP_DB_BUSY;
    case SHOP_SQLSTATE_SCHEMA:
        shop_schema_suspect(site_of(db->s));
        return SHOP_DB_SCHEMA;
    default:
        return SHOP_DB_FAIL;
    }
}

static shop_dbrc prepare(shop_db *db, shop_sql id)
{
    const shop_sql_def *def = shop_sql_get(id);
    shop_dbrc rc = classify(db, PQprepare(db->conn, def->name, def->text,
                                          def->nparams, NULL), NULL);

    if (rc == SHOP_DB_OK) {
        db->state->prepared[id] = 1;
    }
    else if (rc == SHOP_DB_FAIL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, db->r,
                      SHOPLOGNO(00008) "cannot prepare %s [%s]", def->name,
                      db->sqlstate);
    }
    return rc;
}

shop_dbrc shop_db_exec(shop_db *db, shop_sql id, const char *const *params,
                       PGresult **res)
{
    const shop_sql_def *def = shop_sql_get(id);
    const shop_srv_cfg *sc = ap_get_module_config(db->s->module_config,
                                                  &shop_module);
    shop_dbrc rc;

    if (!sc->db_prepare) {
        rc = classify(db, PQexecParams(db->conn, def->text, def->nparams, NULL,
                                       params, NULL, NULL, 0), res);
        if (rc == SHOP_DB_FAIL) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, db->r,
                          SHOPLOGNO(00032) "statement %s failed [%s]", def->name,
                          db->sqlstate);
        }
        return rc;
    }
    db->state = conn_state(db);
    if (!db->state->prepared[id] && (rc = prepare(db, id)) != SHOP_DB_OK) {
        return rc;
    }
    rc = classify(db, PQexecPrepared(db->conn, def->name, def->nparams,
                                     params, NULL, NULL, 0), res);
    /* Someone ran DISCARD ALL or DEALLOCATE: prepare again next time. */
    if (rc == SHOP_DB_FAIL
        && shop_sqlstate_classify(db->sqlstate) == SHOP_SQLSTATE_NO_STATEMENT) {
        db->state->prepared[id] = 0;
        rc = db->in_tx ? SHOP_DB_RETRY : shop_db_exec(db, id, params, res);
    }
    if (rc == SHOP_DB_FAIL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, db->r,
                      SHOPLOGNO(00009) "statement %s failed [%s]", def->name,
                      db->sqlstate);
    }
    return rc;
}

shop_dbrc shop_db_begin(shop_db *db)
{
    shop_dbrc rc = classify(db, PQexec(db->conn, "BEGIN"), NULL);

    db->in_tx = (rc == SHOP_DB_OK);
    return rc;
}

shop_dbrc shop_db_commit(shop_db *db)
{
    PGresult *res = PQexec(db->conn, "COMMIT");
    int committed = res && PQresultStatus(res) == PGRES_COMMAND_OK
                    && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    shop_dbrc rc;

    if (committed) {
        PQclear(res);
        db->in_tx = 0;
        return SHOP_DB_OK;
    }
    rc = classify(db, res, NULL);
    db->in_tx = 0;
    /* A connection lost during COMMIT leaves the outcome unknown: not safe
     * to redo, so the client hears 503 (and may retry with its key). */
    if (rc == SHOP_DB_RETRY
        && shop_sqlstate_classify(db->sqlstate) != SHOP_SQLSTATE_RETRY) {
        return SHOP_DB_DOWN;
    }
    return rc == SHOP_DB_OK ? SHOP_DB_FAIL : rc;
}

shop_dbrc shop_db_savepoint(shop_db *db)
{
    return classify(db, PQexec(db->conn, "SAVEPOINT shop_work"), NULL);
}

shop_dbrc shop_db_undo_to_savepoint(shop_db *db)
{
    return classify(db, PQexec(db->conn, "ROLLBACK TO SAVEPOINT shop_work"), NULL);
}

void shop_db_rollback(shop_db *db)
{
    if (db->in_tx) {
        PQclear(PQexec(db->conn, "ROLLBACK"));
        db->in_tx = 0;
    }
}
