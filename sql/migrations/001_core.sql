-- Core schema: users with their point balance and ledger, products,
-- and the Idempotency-Key store shared by every POST route.
-- Applied once, in one transaction, by `scripts/shopctl migrate`.

-- (function shop_ts: sql/functions/shop_ts.sql)

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login       text NOT NULL UNIQUE CHECK (length(login) BETWEEN 1 AND 64),
    balance     bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per balance change, written in the same transaction as the
-- change: sum(amount) over a user equals the balance, always.
-- USE rows carry a negative amount.
CREATE TABLE point_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id),
    type           text NOT NULL CHECK (type IN ('CHARGE', 'USE', 'REFUND')),
    amount         bigint NOT NULL CHECK (amount <> 0),
    balance_after  bigint NOT NULL CHECK (balance_after >= 0),
    order_id       bigint,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX point_history_user_id ON point_history (user_id, id DESC);

CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price       bigint NOT NULL CHECK (price >= 0),
    stock       bigint NOT NULL CHECK (stock >= 0),
    on_sale     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_on_sale ON products (id) WHERE on_sale;

-- Idempotency-Key store.  user_id 0 stands for admin routes.  status and
-- body are NULL only while the first request's transaction is open.
CREATE TABLE idempotency_keys (
    user_id       bigint NOT NULL,
    route         text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status        int,
    body          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, route, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
