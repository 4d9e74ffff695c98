-- Hot-row ceiling: every transaction updates the SAME row, the counter a
-- naive first-come coupon design would decrement (the campaign row of the
-- "Ceiling probe" campaign, set to the value it already has so it never
-- runs out). The row lock is held through COMMIT's WAL flush, so these
-- transactions cannot overlap: this is the most such a design can issue.
BEGIN;
UPDATE coupons SET total_quantity = total_quantity WHERE id = :coupon::bigint RETURNING total_quantity;
COMMIT;
