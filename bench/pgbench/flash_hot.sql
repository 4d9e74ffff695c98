-- The flash sale's hot-row reference (bench/run, flash-sale section; the
-- shape of /work/shared/guides/flash-sale/hot.sql): an order's stock
-- update on ONE row and its order row, in the scratch tables
-- bench_flash_hot / bench_flash_hot_orders that bench/run creates just
-- before and drops just after. The row lock is held through COMMIT's WAL
-- flush, so these transactions cannot overlap: what one row allows.
\set uid random(1, :users)
BEGIN;
UPDATE bench_flash_hot SET stock = stock - 1 WHERE id = 1 AND stock >= 1;
INSERT INTO bench_flash_hot_orders (user_id, qty) VALUES (:uid, 1);
COMMIT;
