-- The popular ranking, computed once per refresh interval for every node
-- that shares this database (issue 12).  Each node's jobs process ticks;
-- the one that takes pg_try_advisory_xact_lock(...) first when the stored
-- ranking is due computes it and stores the rendered body here; every node
-- copies a row newer than its own into its shared memory.  The lock is
-- transaction-scoped, so it works behind a transaction-pooling PgBouncer.
--
-- One row per ranking definition: key = 'w<window us>:n<top N>', so nodes
-- configured differently (ShopPopularWindow, ShopPopularTopN) never serve
-- each other's ranking.  generated_at is the computing transaction's now(),
-- taken before the sales were read; refreshes counts the computations (the
-- cluster test checks it grows by about one per interval, not one per node).

CREATE TABLE popular_snapshot (
    key           text PRIMARY KEY,
    generated_at  timestamptz NOT NULL,
    body          text NOT NULL,
    refreshes     bigint NOT NULL DEFAULT 1
);
