/*
 * Every Shop* directive, once: the table the configuration code is made
 * from (X-macros).  mod_shop.h makes the config structs' fields of it,
 * mod_shop_config.c the "unset" values, the merge, the defaults and the
 * command table; tests/integration/test_directive_docs.py reads it and
 * checks docs/directives.md, conf/mod_shop.conf and debian/shop.conf.
 *
 * SHOP_VALUE(name, field, kind, min, max, default, help)
 *     A number through the shared setter: kind INT, INT64, DURATION
 *     (microseconds; the value is written with ms/s/m/h/d) or SIZE
 *     (bytes; k/M), checked against min .. max.  Unset: SHOP_UNSET.
 * SHOP_SETTER(name, field, type, args, setter, unset, default, help)
 *     A directive with a setter of its own in mod_shop_config.c; args is
 *     TAKE1 or FLAG.  A default equal to unset means none (left unset).
 * SHOP_DIR(name, field, type, args, setter, unset, help)
 *     A per-directory directive (shop_dir_cfg): no default.
 *
 * A default may use another field's value as c->field, when that field
 * comes before it.  The order is the command table's (httpd -L).
 */
#ifndef MOD_SHOP_DIRECTIVES_H
#define MOD_SHOP_DIRECTIVES_H

#define SHOP_SEC APR_USEC_PER_SEC
#define SHOP_DAY (86400 * APR_USEC_PER_SEC)
#define SHOP_INT53_MAX 9007199254740991LL       /* 2^53-1: exact in JSON */

#define SHOP_SRV_DIRECTIVES(SHOP_VALUE, SHOP_SETTER) \
    SHOP_VALUE(ShopMaxBody, max_body, SIZE, 1024, 16 * 1024 * 1024, 64 * 1024, \
        "largest request body in bytes (k/M suffix), default 64k") \
    SHOP_VALUE(ShopChargeMax, charge_max, INT64, 1, SHOP_INT53_MAX, 1000000, \
        "largest single charge, default 1000000") \
    SHOP_VALUE(ShopBalanceMax, balance_max, INT64, 1, SHOP_INT53_MAX, 10000000, \
        "largest balance, default 10000000") \
    SHOP_VALUE(ShopDBRetries, db_retries, INT, 0, 20, 3, \
        "retries of a transaction after a serialization failure or deadlock, default 3") \
    SHOP_VALUE(ShopIdempotencyTTL, idem_ttl, DURATION, SHOP_SEC, 30 * SHOP_DAY, SHOP_DAY, \
        "how long an Idempotency-Key is remembered, default 24h") \
    SHOP_VALUE(ShopOrderHold, order_hold, DURATION, SHOP_SEC, 30 * SHOP_DAY, 600 * SHOP_SEC, \
        "how long an unpaid order holds its stock, default 10m") \
    SHOP_VALUE(ShopPopularTopN, popular_top_n, INT, 1, 100, 5, \
        "size of the popular ranking, default 5") \
    SHOP_VALUE(ShopPopularWindow, popular_window, DURATION, SHOP_SEC, 365 * SHOP_DAY, \
        3 * SHOP_DAY, "sales window of the popular ranking, default 3d") \
    SHOP_VALUE(ShopPopularRefresh, popular_refresh, DURATION, 100000, SHOP_DAY, 60 * SHOP_SEC, \
        "refresh interval of the popular ranking, default 60s") \
    SHOP_VALUE(ShopOutboxRetention, outbox_retention, DURATION, SHOP_SEC, 3650 * SHOP_DAY, \
        7 * SHOP_DAY, "how long delivered outbox events are kept, default 7d") \
    SHOP_VALUE(ShopSalesRetention, sales_retention, DURATION, SHOP_SEC, 3650 * SHOP_DAY, \
        2 * c->popular_window, "how long sales ledger lines are kept, at least" \
        " ShopPopularWindow, default twice ShopPopularWindow") \
    SHOP_VALUE(ShopPlatformTimeout, platform_timeout, DURATION, 1000, 600 * SHOP_SEC, \
        5 * SHOP_SEC, "timeout of one delivery to the data platform, default 5s") \
    SHOP_VALUE(ShopPlatformRetryMax, platform_retry_max, DURATION, SHOP_SEC, SHOP_DAY, \
        300 * SHOP_SEC, "longest backoff between deliveries, default 5m") \
    SHOP_VALUE(ShopPlatformDeadAfter, platform_dead_after, INT, 1, 100, 5, \
        "permanent refusals (HTTP 4xx but 408/429) of an event before it is parked as" \
        " dead, default 5") \
    SHOP_VALUE(ShopReadCacheTTL, read_cache_ttl, DURATION, 0, 3600 * SHOP_SEC, 0, \
        "0 (off, the default) or how long a cached balance may be served at most;" \
        " writes through this httpd invalidate at once") \
    SHOP_VALUE(ShopCatalogCacheSize, catalog_cache_size, SIZE, 0, 1024 * 1024 * 1024, \
        32 * 1024 * 1024, "shared memory of each shop's catalog cache (products, product" \
        " list pages, coupon campaigns) in bytes (k/M suffix); 0 turns it off, default 32M") \
    SHOP_VALUE(ShopCatalogMaxAge, catalog_max_age, DURATION, 10000, SHOP_SEC, 500000, \
        "longest a cached product, page or campaign is served: the bound on how stale its" \
        " stock or remaining count may be, 10ms-1s, default 500ms") \
    SHOP_VALUE(ShopCatalogSync, catalog_sync, DURATION, 5000, SHOP_SEC, 25000, \
        "how often the jobs process reads the catalog change log, so that a change made" \
        " elsewhere (another node, psql) stops this node's cached copy, default 25ms") \
    SHOP_VALUE(ShopPlatformConnections, platform_connections, INT, 1, \
        SHOP_PLATFORM_CONNECTIONS_MAX, 64, "events the relay sends at once, each on its" \
        " own keep-alive connection, 1-256, default 64") \
    SHOP_VALUE(ShopDBProbeInterval, db_probe_interval, DURATION, 10000, 60 * SHOP_SEC, \
        250000, "while the database is unreachable, how often each child checks whether" \
        " it is back, default 250ms") \
    SHOP_VALUE(ShopWriteConcurrency, write_concurrency, INT, 1, 1024, 8, \
        "write transactions one child runs at once per shop (the rest wait, see" \
        " ShopBusyWait); keep it below DBDMax so reads always find a connection," \
        " default 8") \
    SHOP_VALUE(ShopServerWriteConcurrency, server_write_concurrency, INT, 0, 65536, \
        2 * c->write_concurrency, "write transactions all the children of this server" \
        " run at once per shop, shared out among the children alive (each at least 1," \
        " at most ShopWriteConcurrency); 0: no server-wide bound, default twice" \
        " ShopWriteConcurrency") \
    SHOP_VALUE(ShopBusyWait, busy_wait, DURATION, 0, 60 * SHOP_SEC, SHOP_SEC, \
        "how long a write waits for its turn before it is answered 503 BUSY," \
        " default 1s") \
    SHOP_VALUE(ShopIssueBatch, issue_batch, INT, 1, 256, 16, \
        "first-come coupon issues one transaction claims at once in a child: the" \
        " requests that arrived while the previous batch ran; 1: each issue alone," \
        " default 16") \
    SHOP_VALUE(ShopCatalogHTTPMaxAge, catalog_http_max_age, DURATION, 0, SHOP_DAY, 0, \
        "how long a cache may serve a product, a product page or a campaign without" \
        " asking (Cache-Control max-age, whole seconds); 0 (the default): always" \
        " revalidate, must-revalidate") \
    SHOP_VALUE(ShopCatalogStaleWhileRevalidate, catalog_stale_while_revalidate, DURATION, \
        0, SHOP_DAY, 0, "how long past ShopCatalogHTTPMaxAge a cache may still serve a" \
        " catalog read while it revalidates it (Cache-Control stale-while-revalidate," \
        " whole seconds); default 0: never") \
    SHOP_SETTER(ShopPlatformURL, platform_url, const char *, TAKE1, set_platform_url, \
        NULL, NULL, "URL that receives order events; unset keeps them in the outbox") \
    SHOP_SETTER(ShopUserAuth, user_auth, shop_auth_mode, TAKE1, set_user_auth, \
        SHOP_AUTH_UNSET, SHOP_AUTH_NONE, "none (default) or remote-user: r->user must be" \
        " the login of {userId}; per server or virtual host, never per <Location>") \
    SHOP_SETTER(ShopDBPrepare, db_prepare, int, FLAG, set_db_prepare, SHOP_UNSET, 1, \
        "on (default): server-side named prepared statements per pooled connection; off:" \
        " unnamed statements (PQexecParams), for a transaction-pooling PgBouncer in" \
        " front of PostgreSQL") \
    SHOP_SETTER(ShopJobDBParams, job_db_params, const char *, RAW_ARGS, set_job_db_params, \
        NULL, NULL, "libpq connection string of the background jobs; default: the" \
        " DBDParams of the server or virtual host") \
    SHOP_SETTER(ShopName, shop_name, const char *, TAKE1, set_shop_name, NULL, NULL, \
        "the shop's name in server-status, its ?auto keys and log lines (letters," \
        " digits, '.', '-', '_'); default: the ServerName of the shop's first server")

#define SHOP_DIR_DIRECTIVES(SHOP_DIR) \
    SHOP_DIR(ShopMount, mount, const char *, TAKE1, set_mount, NULL, \
        "URL path the API routes are relative to; default: the <Location> that sets" \
        " SetHandler shop")

/* The C type of each SHOP_VALUE kind. */
#define SHOP_TYPE_INT int
#define SHOP_TYPE_INT64 apr_int64_t
#define SHOP_TYPE_DURATION apr_interval_time_t
#define SHOP_TYPE_SIZE apr_off_t

#endif
