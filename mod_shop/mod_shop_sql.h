/*
 * Every SQL statement mod_shop runs has one home: mod_shop_sql.c.
 * They are prepared lazily on each pooled connection (see mod_shop_db.c).
 */
#ifndef MOD_SHOP_SQL_H
#define MOD_SHOP_SQL_H

#include <apr_pools.h>

typedef enum {
    SQL_USER_BALANCE,
    SQL_USER_LOGIN,
    SQL_POINTS_CHARGE,
    SQL_POINTS_HISTORY,
    SQL_PRODUCTS_LIST,
    SQL_PRODUCT_GET,
    SQL_ADMIN_USER_INSERT,
    SQL_ADMIN_PRODUCT_INSERT,
    SQL_ADMIN_PRODUCT_UPDATE,
    SQL_IDEM_CLAIM,
    SQL_IDEM_GET,
    SQL_IDEM_STORE,
    SQL_ORDER_CREATE,
    SQL_ORDER_PAY,
    SQL_ORDER_CANCEL,
    SQL_ORDER_GET,
    SQL_ORDERS_LIST,
    SQL_ORDER_COUPONS,
    SQL_COUPON_GET,
    SQL_COUPON_ISSUE,
    SQL_COUPON_ISSUE_BATCH,
    SQL_COUPON_PLAINLY_SOLD_OUT,
    /* the jobs' statements */
    SQL_JOB_POPULAR,
    SQL_JOB_POPULAR_LOCK,
    SQL_JOB_POPULAR_STORE,
    SQL_JOB_POPULAR_ADOPT,
    SQL_JOB_RELAY_LEASE,
    SQL_JOB_RELAY_DELIVERED,
    SQL_JOB_RELAY_FAILED,
    SQL_JOB_RELAY_RELEASE,
    SQL_JOB_EXPIRE,
    SQL_JOB_PURGE_IDEMPOTENCY,
    SQL_JOB_PURGE_OUTBOX,
    SQL_JOB_PURGE_SALES,
    SQL_JOB_PURGE_CATALOG_CHANGES,
    SQL_JOB_CATALOG_NEWEST,
    SQL_JOB_CATALOG_CHANGES,
    SQL_JOB_PRODUCTS_REFRESH,
    SQL_USER_COUPONS,
    SQL_ADMIN_COUPON_CREATE,
    SQL_STATUS_OUTBOX,
    SQL_ADMIN_OUTBOX_DEAD,
    SQL_ADMIN_OUTBOX_REDELIVER,
    SQL_HEALTH,
    SQL_SCHEMA_TABLE,
    SQL_SCHEMA_VERSIONS,
    SQL__COUNT
} shop_sql;

typedef struct {
    const char *name;   /* server-side prepared statement name */
    const char *text;
    int nparams;
} shop_sql_def;

const shop_sql_def *shop_sql_get(shop_sql id);

/* A bigint parameter, as the text libpq sends. */
const char *shop_i64(apr_pool_t *p, apr_int64_t v);

#endif
