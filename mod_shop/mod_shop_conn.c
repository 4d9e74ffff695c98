/*
 * The HTTP/1.x connection loop under a thread-per-connection MPM (worker,
 * prefork): httpd's own ap_process_http_sync_connection
 * (modules/http/http_core.c), with one difference.
 *
 * httpd decides whether a response keeps its connection open while it
 * writes the response's headers (ap_set_keepalive: keep-alive unless the
 * MPM is already stopping), and checks the MPM again after the response:
 * if the child began to stop in between (a graceful restart, a child
 * recycled by MaxConnectionsPerChild or retired as surplus), it closes
 * the connection without reading on it.  A client that was just told
 * "keep-alive" may already have sent its next request: the lingering
 * close reads that request and drops it, and the client reads EOF (wrk:
 * a read error; a POST without an Idempotency-Key: an outcome unknown).
 *
 * This loop keeps the promise instead: a stopping child waits for the
 * next request as for any keep-alive connection (at most
 * KeepAliveTimeout), serves it, and that answer carries
 * "Connection: close" (ap_set_keepalive sees the stopping MPM), so the
 * client moves to the new generation after a complete answer.  A thread
 * whose connection was idle when the signal came already did exactly
 * that, so a retiring child lives no longer than before.
 *
 * Under an asynchronous MPM (event) httpd's own loop runs: there idle
 * connections belong to the listener, not to a thread of ours.
 */
#include "mod_shop_conn.h"

#include <http_connection.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <scoreboard.h>

/* httpd's rule: a virtual host without a KeepAliveTimeout of its own uses
 * the base server's (the first on this address and port). */
static apr_interval_time_t keepalive_timeout(const request_rec *r)
{
    return r->server->keep_alive_timeout_set ? r->server->keep_alive_timeout
                                             : r->connection->base_server->keep_alive_timeout;
}

static int thread_per_connection(const conn_rec *c)
{
    int async = 0;

    /* c->cs: a connection state, i.e. an MPM that parks connections;
     * c->master: a stream of an HTTP/2 connection (mod_http2's).  The
     * worker MPM does not answer AP_MPMQ_IS_ASYNC at all (APR_ENOTIMPL):
     * like httpd's own http module, take that for "not asynchronous". */
    if (c->cs != NULL || c->master != NULL) {
        return 0;
    }
    return ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async;
}

static int shop_process_connection(conn_rec *c)
{
    request_rec *r;
    apr_socket_t *csd = NULL;

    if (!thread_per_connection(c)) {
        return DECLINED;
    }
    ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
    while ((r = ap_read_request(c)) != NULL) {
        apr_interval_time_t timeout = keepalive_timeout(r);

        if (r->status == HTTP_OK) {
            ap_update_child_status(c->sbh, SERVER_BUSY_WRITE, r);
            ap_process_request(r);      /* destroys r->pool */
        }
        r = NULL;
        /* No test of the MPM's state here (httpd's loop has one): the
         * answer just sent said keep-alive, so the next request is read
         * and answered, with "Connection: close" if the child is stopping. */
        if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted) {
            break;
        }
        ap_update_child_status(c->sbh, SERVER_BUSY_KEEPALIVE, NULL);
        if (csd == NULL) {
            csd = ap_get_conn_socket(c);
        }
        apr_socket_opt_set(csd, APR_INCOMPLETE_READ, 1);
        apr_socket_timeout_set(csd, timeout);
    }
    return OK;
}

void shop_conn_register(void)
{
    /* After every other taker of a connection, mod_http2's included (its
     * HTTP/1 connection hook runs at APR_HOOK_LAST and takes h2 and h2c
     * connections over; mod_ssl's handshake is at APR_HOOK_MIDDLE), and
     * before the http module's own loop (APR_HOOK_REALLY_LAST), which
     * this one replaces. */
    ap_hook_process_connection(shop_process_connection, NULL, NULL,
                               APR_HOOK_REALLY_LAST - 1);
}
