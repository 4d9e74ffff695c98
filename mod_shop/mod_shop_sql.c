/*
 * The SQL of mod_shop.  Parameters are typed with casts in the text, so
 * libpq can send every value as text and the planner still sees bigint.
 * Times leave the database already in RFC 3339 (shop_ts(), sql/).
 */
#include "mod_shop.h"
#include "mod_shop_sql.h"

/* The relay's record of a batch's deliveries, given the parameters that
 * hold the ids and the HTTP statuses (arrays): alone, or in the next lease. */
#define RELAY_RECORD(ids, statuses) \
    "UPDATE outbox o SET delivered_at = now(), attempts = o.attempts + 1," \
    " last_error = NULL, last_status = d.status" \
    "  FROM unnest(" ids "::bigint[], " statuses "::int[]) AS d (id, status)" \
    " WHERE o.id = d.id"

/* A product's stock: the sum of its buckets (sql/migrations/010), written
 * out rather than called (shop_product_stock) so the plan stays flat. */
#define PRODUCT_STOCK(p) \
    "(SELECT coalesce(sum(s.stock), 0) FROM product_stock s WHERE s.product_id = " p ")"

static const shop_sql_def sql_defs[SQL__COUNT] = {
    [SQL_USER_BALANCE] = {"shop_user_balance",
        "SELECT balance FROM users WHERE id = $1::bigint", 1},

    [SQL_USER_LOGIN] = {"shop_user_login",
        "SELECT login FROM users WHERE id = $1::bigint", 1},

    /* The limit check and the ledger row ride in the same statement as the
     * update: one round trip, atomic, and the row lock makes racing charges
     * re-check the limit against the committed balance. */
    [SQL_POINTS_CHARGE] = {"shop_points_charge",
        "WITH u AS (UPDATE users SET balance = balance + $2::bigint"
        "           WHERE id = $1::bigint AND balance + $2::bigint <= $3::bigint"
        "           RETURNING id, balance),"
        " h AS (INSERT INTO point_history (user_id, type, amount, balance_after)"
        "       SELECT id, 'CHARGE', $2::bigint, balance FROM u)"
        " SELECT balance FROM u", 3},

    /* One row per history entry, or one row of NULLs for a user without
     * history; no row at all means no such user. */
    [SQL_POINTS_HISTORY] = {"shop_points_history",
        "SELECT h.id, h.j FROM users u LEFT JOIN LATERAL"
        "       (SELECT ph.id, json_build_object('id', ph.id, 'type', ph.type,"
        "               'amount', ph.amount, 'balance_after', ph.balance_after,"
        "               'order_id', ph.order_id,"
        "               'created_at', shop_ts(ph.created_at)) AS j"
        "          FROM point_history ph"
        "         WHERE ph.user_id = u.id AND ph.id < $2::bigint"
        "         ORDER BY ph.id DESC LIMIT $3::int) h ON true"
        " WHERE u.id = $1::bigint ORDER BY h.id DESC", 3},

    [SQL_PRODUCTS_LIST] = {"shop_products_list",
        "SELECT p.id, p.name, p.price, " PRODUCT_STOCK("p.id") " FROM products p"
        " WHERE p.on_sale AND p.id > $1::bigint ORDER BY p.id LIMIT $2::int", 2},

    [SQL_PRODUCT_GET] = {"shop_product_get",
        "SELECT p.id, p.name, p.price, " PRODUCT_STOCK("p.id") " FROM products p"
        " WHERE p.id = $1::bigint AND p.on_sale", 1},

    [SQL_ADMIN_USER_INSERT] = {"shop_admin_user_insert",
        "INSERT INTO users (login) VALUES ($1::text)"
        " RETURNING id, login, balance, shop_ts(created_at)", 1},

    [SQL_ADMIN_PRODUCT_INSERT] = {"shop_admin_product_insert",
        "SELECT id, name, price, stock, on_sale FROM"
        " shop_create_product($1::text, $2::bigint, $3::bigint, $4::boolean)", 4},

    [SQL_ADMIN_PRODUCT_UPDATE] = {"shop_admin_product_update",
        "SELECT id, name, price, stock, on_sale FROM"
        " shop_update_product($1::bigint, $2::bigint, $3::bigint, $4::boolean)", 4},

    /* Inserts the key, or takes over an expired one.  A concurrent request
     * with the same key waits here on the unique index until the first one
     * commits (then it replays) or rolls back (then it proceeds). */
    [SQL_IDEM_CLAIM] = {"shop_idem_claim",
        "INSERT INTO idempotency_keys (user_id, route, key, request_hash)"
        " VALUES ($1::bigint, $2::text, $3::text, $4::text)"
        " ON CONFLICT (user_id, route, key) DO UPDATE"
        "   SET request_hash = excluded.request_hash, status = NULL,"
        "       body = NULL, created_at = now()"
        "   WHERE idempotency_keys.created_at"
        "         < now() - $5::bigint * interval '1 microsecond'"
        " RETURNING 1", 5},

    [SQL_IDEM_GET] = {"shop_idem_get",
        "SELECT request_hash, status, body FROM idempotency_keys"
        " WHERE user_id = $1::bigint AND route = $2::text AND key = $3::text", 3},

    [SQL_IDEM_STORE] = {"shop_idem_store",
        "UPDATE idempotency_keys SET status = $4::int, body = $5::text"
        " WHERE user_id = $1::bigint AND route = $2::text AND key = $3::text", 5},

    /* Orders and coupons: the transactions live in SQL functions
     * (sql/functions/<name>.sql), one round trip each. */
    [SQL_ORDER_CREATE] = {"shop_order_create",
        "SELECT outcome, detail, commits FROM shop_create_order($1::bigint, $2::bigint[],"
        " $3::bigint[], $4::bigint * interval '1 microsecond')", 4},

    [SQL_ORDER_PAY] = {"shop_order_pay",
        "SELECT outcome, detail, commits FROM shop_pay_order($1::bigint, $2::bigint, $3::bigint)", 3},

    [SQL_ORDER_CANCEL] = {"shop_order_cancel",
        "SELECT outcome, detail, commits FROM shop_cancel_order($1::bigint, $2::bigint)", 2},

    [SQL_ORDER_GET] = {"shop_order_get",
        "SELECT shop_order_json(o) FROM orders o"
        " WHERE o.id = $2::bigint AND o.user_id = $1::bigint", 2},

    /* Like the history: no row means no user, a row of NULLs no orders. */
    [SQL_ORDERS_LIST] = {"shop_orders_list",
        "SELECT o.id, o.j FROM users u LEFT JOIN LATERAL"
        "       (SELECT x.id, shop_order_json(x) AS j FROM orders x"
        "         WHERE x.user_id = u.id AND x.id < $2::bigint"
        "         ORDER BY x.id DESC LIMIT $3::int) o ON true"
        " WHERE u.id = $1::bigint ORDER BY o.id DESC", 3},

    /* The user's coupons usable on an unpaid order, best discount first. */
    [SQL_ORDER_COUPONS] = {"shop_order_coupons",
        "SELECT o.id, x.j FROM orders o LEFT JOIN LATERAL"
        "       (SELECT shop_user_coupon_json(uc, c, d.amount) AS j, d.amount, uc.id"
        "          FROM user_coupons uc JOIN coupons c ON c.id = uc.coupon_id,"
        "               shop_discount(c.discount_type, c.discount_value,"
        "                             c.max_discount, o.total_amount) AS d (amount)"
        "         WHERE uc.user_id = o.user_id AND uc.status = 'AVAILABLE'"
        "           AND uc.expires_at > now() AND o.total_amount >= c.min_order_amount"
        "           AND o.status = 'AWAITING_PAYMENT') x ON true"
        " WHERE o.id = $2::bigint AND o.user_id = $1::bigint"
        " ORDER BY x.amount DESC, x.id", 2},

    /* The issued count beside the campaign, so shop_coupon_json is
     * inlined (009): a function with the sub-select is planned per call. */
    [SQL_COUPON_GET] = {"shop_coupon_get",
        "SELECT shop_coupon_json(c, i.issued) FROM coupons c,"
        "       LATERAL (SELECT coalesce(sum(x.issued), 0) AS issued"
        "                  FROM coupon_issued x WHERE x.coupon_id = c.id) i"
        " WHERE c.id = $1::bigint", 1},

    [SQL_COUPON_ISSUE] = {"shop_coupon_issue",
        "SELECT outcome, detail, commits FROM shop_issue_coupon($1::bigint, $2::bigint)", 2},

    /* A batch of issues (mod_shop_coupons.c): one row (i, outcome, detail)
     * per pair i of the two arrays. */
    [SQL_COUPON_ISSUE_BATCH] = {"shop_coupon_issue_batch",
        "SELECT i, outcome, detail FROM shop_issue_coupons($1::bigint[], $2::bigint[])", 2},

    [SQL_USER_COUPONS] = {"shop_user_coupons",
        "SELECT x.id, x.j FROM users u LEFT JOIN LATERAL"
        "       (SELECT uc.id, shop_user_coupon_json(uc, c) AS j"
        "          FROM user_coupons uc JOIN coupons c ON c.id = uc.coupon_id"
        "         WHERE uc.user_id = u.id AND uc.id < $2::bigint"
        "         ORDER BY uc.id DESC LIMIT $3::int) x ON true"
        " WHERE u.id = $1::bigint ORDER BY x.id DESC", 3},

    [SQL_ADMIN_COUPON_CREATE] = {"shop_admin_coupon_create",
        "SELECT shop_create_coupon($1::text, $2::text, $3::bigint, $4::bigint,"
        " $5::bigint, $6::int, $7::timestamptz, $8::timestamptz, $9::int)", 9},

    /* The backlog (pending: undelivered and not dead), the newest pending
     * failure's error and the dead count, each through its partial index
     * (sql/migrations/004_relay_dead_letters.sql). */
    [SQL_STATUS_OUTBOX] = {"shop_status_outbox",
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::bigint,"
        "       (SELECT last_error FROM outbox WHERE delivered_at IS NULL"
        "          AND dead_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1),"
        "       (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL)"
        "  FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL", 0},

    /* Dead letters, newest first; like the user lists, a row of NULLs is
     * an empty page. */
    [SQL_ADMIN_OUTBOX_DEAD] = {"shop_admin_outbox_dead",
        "SELECT x.id, x.j FROM (VALUES (1)) one LEFT JOIN LATERAL"
        "       (SELECT o.id, shop_outbox_json(o) AS j FROM outbox o"
        "         WHERE o.dead_at IS NOT NULL AND o.id < $1::bigint"
        "         ORDER BY o.id DESC LIMIT $2::int) x ON true"
        " ORDER BY x.id DESC", 2},

    /* A dead event back to pending: sent again at the next relay tick,
     * with a fresh count of attempts and refusals. */
    [SQL_ADMIN_OUTBOX_REDELIVER] = {"shop_admin_outbox_redeliver",
        "UPDATE outbox o SET dead_at = NULL, attempts = 0, refusals = 0,"
        "       next_attempt_at = now()"
        " WHERE o.event_id = $1::uuid AND o.dead_at IS NOT NULL"
        " RETURNING shop_outbox_json(o)", 1},

    [SQL_HEALTH] = {"shop_health", "SELECT 1", 0},
    /* The schema check (mod_shop_schema.c): whether mod-shop-migrate has
     * run at all, then what it applied. */
    [SQL_SCHEMA_TABLE] = {"shop_schema_table",
        "SELECT to_regclass('schema_migrations') IS NOT NULL", 0},
    [SQL_SCHEMA_VERSIONS] = {"shop_schema_versions",
        "SELECT version FROM schema_migrations ORDER BY version", 0},
    /* SOLD_OUT is the answer for a campaign seen sold out unless an earlier
     * one in the contract's order is: the user exists, has none of this
     * campaign, and the campaign is in its issue window.  Written out here
     * rather than called as shop_plainly_sold_out() (007, kept for modules
     * of the previous release during an upgrade): a LANGUAGE sql function
     * with sub-selects is not inlined and is planned again on every call,
     * which made this read cost 150 us of PostgreSQL CPU instead of ~40. */
    [SQL_COUPON_PLAINLY_SOLD_OUT] = {"shop_coupon_plainly_sold_out",
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1::bigint)"
        "   AND NOT EXISTS (SELECT 1 FROM user_coupons"
        "                    WHERE coupon_id = $2::bigint AND user_id = $1::bigint)"
        "   AND EXISTS (SELECT 1 FROM coupons WHERE id = $2::bigint"
        "                  AND now() >= issue_starts_at AND now() < issue_ends_at)", 2},

    /* ---- the scheduled jobs (run with PQexecParams on their own connections) */
    [SQL_JOB_POPULAR] = {"shop_job_popular",
        "SELECT p.id, p.name, p.price, " PRODUCT_STOCK("p.id") ", s.sold FROM"
        " (SELECT product_id, sum(quantity) AS sold FROM sales"
        "   WHERE paid_at >= now() - $1::bigint * interval '1 microsecond'"
        "   GROUP BY product_id) s"
        " JOIN products p ON p.id = s.product_id AND p.on_sale"
        " ORDER BY s.sold DESC, p.id LIMIT $2::int", 2},
    [SQL_JOB_POPULAR_LOCK] = {"shop_job_popular_lock",
        "SELECT pg_try_advisory_xact_lock(hashtext('mod_shop.popular'), hashtext($1::text)),"
        " coalesce((SELECT generated_at > now() - $2::bigint * interval '1 microsecond'"
        "             FROM popular_snapshot WHERE key = $1::text), false),"
        " (extract(epoch FROM now()) * 1000000)::bigint", 2},
    [SQL_JOB_POPULAR_STORE] = {"shop_job_popular_store",
        "INSERT INTO popular_snapshot (key, generated_at, body) VALUES ($1::text, now(), $2::text)"
        " ON CONFLICT (key) DO UPDATE SET generated_at = excluded.generated_at,"
        "   body = excluded.body, refreshes = popular_snapshot.refreshes + 1", 2},
    [SQL_JOB_POPULAR_ADOPT] = {"shop_job_popular_adopt",
        "SELECT (extract(epoch FROM generated_at) * 1000000)::bigint, body"
        "  FROM popular_snapshot WHERE key = $1::text"
        "   AND generated_at > 'epoch'::timestamptz + $2::bigint * interval '1 microsecond'", 2},
    /* The lease, with the previous full batch's deliveries ($3 ids, $4
     * statuses; empty arrays for none) recorded in the same statement: one
     * round trip and one commit per batch instead of two.  The lease reads
     * the snapshot from before that record, so an order's next event waits
     * for the statement after it (ordering as before). */
    [SQL_JOB_RELAY_LEASE] = {"shop_job_relay_lease",
        "WITH delivered AS (" RELAY_RECORD("$3", "$4") ")"
        " UPDATE outbox o SET next_attempt_at = now() + $2::bigint * interval '1 microsecond'"
        "  FROM (SELECT id FROM outbox x WHERE delivered_at IS NULL AND dead_at IS NULL"
        "          AND next_attempt_at <= now()"
        "          AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.order_id = x.order_id"
        "                            AND e.id < x.id AND e.delivered_at IS NULL)"
        "          ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED) due"
        " WHERE o.id = due.id RETURNING o.id, o.event_id, o.payload::text, o.attempts", 4},
    /* One statement (one commit) for a batch's deliveries: $1 ids, $2 statuses. */
    [SQL_JOB_RELAY_DELIVERED] = {"shop_job_relay_delivered", RELAY_RECORD("$1", "$2"), 2},
    /* Leased events a batch did not get to send: due again at once. */
    [SQL_JOB_RELAY_RELEASE] = {"shop_job_relay_release",
        "UPDATE outbox SET next_attempt_at = now()"
        " WHERE id = ANY ($1::bigint[]) AND delivered_at IS NULL", 1},
    [SQL_JOB_RELAY_FAILED] = {"shop_job_relay_failed",
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2::text,"
        " last_status = $4::int, refusals = refusals + $5::int,"
        " dead_at = CASE WHEN $5::int = 1 AND refusals + 1 >= $6::int THEN now() END,"
        " next_attempt_at = now() + least($3::bigint,"
        "     1000000 * power(2, least(attempts, 40))::bigint) * interval '1 microsecond'"
        " WHERE id = $1::bigint RETURNING dead_at IS NOT NULL, refusals", 6},
    [SQL_JOB_EXPIRE] = {"shop_job_expire", "SELECT shop_expire_orders($1::int)", 1},
    [SQL_JOB_PURGE_IDEMPOTENCY] = {"shop_job_purge_idempotency",
        "SELECT shop_purge_idempotency_keys($1::bigint * interval '1 microsecond', $2::int)", 2},
    [SQL_JOB_PURGE_OUTBOX] = {"shop_job_purge_outbox",
        "SELECT shop_purge_outbox($1::bigint * interval '1 microsecond', $2::int)", 2},
    [SQL_JOB_PURGE_SALES] = {"shop_job_purge_sales",
        "SELECT shop_purge_sales($1::bigint * interval '1 microsecond', $2::int)", 2},
    [SQL_JOB_PURGE_CATALOG_CHANGES] = {"shop_job_purge_catalog_changes",
        "SELECT shop_purge_catalog_changes($1::bigint * interval '1 microsecond', $2::int)",
        2},
    /* The catalog sync (mod_shop_catalog.c): where the log ends, and the
     * changes past $1 of the last few seconds, with their age in us. */
    [SQL_JOB_CATALOG_NEWEST] = {"shop_job_catalog_newest",
        "SELECT coalesce(max(seq), 0) FROM catalog_changes", 0},
    [SQL_JOB_CATALOG_CHANGES] = {"shop_job_catalog_changes",
        "SELECT seq, kind, coalesce(id, 0),"
        "       (extract(epoch FROM clock_timestamp() - changed_at) * 1e6)::bigint"
        "  FROM catalog_changes"
        " WHERE seq > $1::bigint AND changed_at > clock_timestamp() - $2::bigint"
        "       * interval '1 microsecond'"
        " ORDER BY seq LIMIT 5000", 2},
    /* shop_product_get's columns for many ids (the catalog refresh job) */
    [SQL_JOB_PRODUCTS_REFRESH] = {"shop_job_products_refresh",
        "SELECT p.id, p.name, p.price, " PRODUCT_STOCK("p.id") " FROM products p"
        " WHERE p.id = ANY($1::bigint[]) AND p.on_sale ORDER BY p.id", 1},
};

const shop_sql_def *shop_sql_get(shop_sql id)
{
    return &sql_defs[id];
}

const char *shop_i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}
