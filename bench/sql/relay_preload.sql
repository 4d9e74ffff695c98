-- bench/sql/relay_preload.sql — a held-back backlog for measuring the relay's
-- capacity (bench/run's order_pay_relay runs, bench/relay_probe): the
-- ORDER_PAID events of :preload seeded PAID orders that have none (the seed
-- writes no outbox rows), built by the module's own shop_event, with
-- next_attempt_at = infinity so the relay leaves them until the caller
-- releases them (UPDATE ... SET next_attempt_at = now()) as wrk starts.
-- Run in one transaction (psql -1): now() is the same in both statements.
WITH e AS (SELECT shop_event('ORDER_PAID', o) FROM orders o
            WHERE o.status = 'PAID'
              AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.order_id = o.id)
            ORDER BY o.id LIMIT :preload)
SELECT count(*) FROM e;
UPDATE outbox SET next_attempt_at = 'infinity'
 WHERE created_at = now() AND delivered_at IS NULL;
