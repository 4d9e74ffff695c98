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
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

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
    int in_commit;          /* the statement running is COMMIT */
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

/*
 * A pooled session the server ended while it sat idle (a restart, a
 * failover, pg_terminate_backend), or one dropped by session_lost, has its
 * last words or an EOF on the socket, where an idle session has nothing to
 * read.  It is reset before the request uses it: nothing of this request
 * ran on it, so this costs no answer, while the same error met by a
 * statement would (see classify).
 */
static int ended_while_idle(PGconn *conn)
{
    struct pollfd pfd;

    pfd.fd = PQsocket(conn);
    pfd.events = POLLIN;
    pfd.revents = 0;
    return PQstatus(conn) != CONNECTION_OK
           || (pfd.fd >= 0 && poll(&pfd, 1, 0) > 0);
}

static int fresh_session(request_rec *r, shop_site *site, PGconn *conn)
{
    if (!ended_while_idle(conn)) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  SHOPLOGNO(00044) "pooled session ended while idle: reconnecting");
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        shop_breaker_failure(r, site, first_line(r->pool, PQerrorMessage(conn)));
        return 0;
    }
    return 1;
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
    if (!fresh_session(r, site, db->conn)) {
        shop_db_close(db);
        return SHOP_DB_DOWN;
    }
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
 * A session that is gone, or on a server that is going away or is a
 * standby, is never used again.  Whether this request may redo its work
 * is shop_sqlstate_session's call:
 *
 * - REDO (the transaction was rolled back): reset now and go again;
 * - GIVE_UP (a failover state, or the session lost in a commit): the
 *   session is dropped (its socket shut down, so the server ends it) and
 *   the request answers 503 with Retry-After.  The pooled handle goes back
 *   to mod_dbd with nothing behind it, and its next borrower reconnects
 *   (fresh_session): later, when the new primary is more likely there,
 *   rather than now, while the old server is still the one answering.
 */
static shop_dbrc session_lost(shop_db *db, shop_session_fate fate)
{
    int committing = db->in_commit || !db->in_tx;

    db->in_tx = 0;
    if (fate == SHOP_SESSION_GIVE_UP) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, db->r,
                      SHOPLOGNO(00045) "session dropped after [%s]%s: answering 503", db->sqlstate,
                      committing ? " in a commit, outcome unknown" : "");
        if (PQsocket(db->conn) >= 0) {
            shutdown(PQsocket(db->conn), SHUT_RDWR);
        }
        return SHOP_DB_DOWN;
    }
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
    shop_session_fate fate;

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

    /* Outside BEGIN .. COMMIT a statement commits by itself; BEGIN is
     * counted with them: redoing it on a server that is away would only
     * hold the request for another wait. */
    fate = shop_sqlstate_session(db->sqlstate, PQstatus(db->conn) == CONNECTION_BAD,
                                 db->in_commit || !db->in_tx);
    if (fate != SHOP_SESSION_KEEP) {
        return session_lost(db, fate);
    }
    switch (shop_sqlstate_classify(db->sqlstate)) {
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
    PGresult *res;
    shop_dbrc rc;

    db->in_commit = 1;
    res = PQexec(db->conn, "COMMIT");
    /* COMMIT of an aborted transaction says ROLLBACK, not an error. */
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK
        && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        PQclear(res);
        db->in_commit = 0;
        db->in_tx = 0;
        return SHOP_DB_FAIL;
    }
    rc = classify(db, res, NULL);
    db->in_commit = 0;
    db->in_tx = 0;
    return rc;
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
