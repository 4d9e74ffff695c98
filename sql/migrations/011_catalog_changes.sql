-- Catalog freshness (issue 21): the change log the nodes' caches follow.
--
-- Every node serves products, product pages and coupon campaigns from its
-- shared-memory catalog cache.  A change made anywhere (an admin route on
-- any node, psql, a migration) is written here by the triggers of
-- sql/functions/shop_catalog_changed.sql, in the changing transaction;
-- each node's jobs process reads the rows past the last it applied every
-- ShopCatalogSync (25 ms) and stops its cached copies of what they name
-- (mod_shop_catalog.c).  A plain indexed read, so it works through a
-- transaction-pooling PgBouncer, where LISTEN does not; and only catalog
-- edits write here, never orders or coupon issues (the stock and remaining
-- counts a page shows lag by ShopCatalogMaxAge instead), so the order and
-- payment path is not one statement longer.
--
-- id NULL: every row of the kind (a statement that changed many rows).
-- The expiry job purges rows older than an hour (shop_purge_catalog_changes).

CREATE TABLE catalog_changes (
    seq         bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('product', 'coupon')),
    id          bigint,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
