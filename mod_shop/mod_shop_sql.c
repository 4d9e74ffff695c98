/*
 * The SQL of mod_shop.  Parameters are typed with casts in the text, so
 * libpq can send every value as text and the planner still sees bigint.
 * Times leave the database already in RFC 3339 (shop_ts(), sql/).
 */
#include "mod_shop.h"

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
        "SELECT h.id, h.type, h.amount, h.balance_after, h.order_id,"
        "       shop_ts(h.created_at)"
        "  FROM users u LEFT JOIN LATERAL"
        "       (SELECT * FROM point_history ph"
        "         WHERE ph.user_id = u.id AND ph.id < $2::bigint"
        "         ORDER BY ph.id DESC LIMIT $3::int) h ON true"
        " WHERE u.id = $1::bigint ORDER BY h.id DESC", 3},

    [SQL_PRODUCTS_LIST] = {"shop_products_list",
        "SELECT id, name, price, stock FROM products"
        " WHERE on_sale AND id > $1::bigint ORDER BY id LIMIT $2::int", 2},

    [SQL_PRODUCT_GET] = {"shop_product_get",
        "SELECT id, name, price, stock FROM products"
        " WHERE id = $1::bigint AND on_sale", 1},

    [SQL_ADMIN_USER_INSERT] = {"shop_admin_user_insert",
        "INSERT INTO users (login) VALUES ($1::text)"
        " RETURNING id, login, balance, shop_ts(created_at)", 1},

    [SQL_ADMIN_PRODUCT_INSERT] = {"shop_admin_product_insert",
        "INSERT INTO products (name, price, stock, on_sale)"
        " VALUES ($1::text, $2::bigint, $3::bigint, $4::boolean)"
        " RETURNING id, name, price, stock, on_sale", 4},

    [SQL_ADMIN_PRODUCT_UPDATE] = {"shop_admin_product_update",
        "UPDATE products SET price = coalesce($2::bigint, price),"
        "       stock = coalesce($3::bigint, stock),"
        "       on_sale = coalesce($4::boolean, on_sale), updated_at = now()"
        " WHERE id = $1::bigint RETURNING id, name, price, stock, on_sale", 4},

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
};

const shop_sql_def *shop_sql_get(shop_sql id)
{
    return &sql_defs[id];
}
