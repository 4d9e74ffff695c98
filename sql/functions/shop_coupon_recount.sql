-- shop_coupon_recount: the live definition (sql/functions/README.md says how these files are applied).

-- Rebuilds a campaign's stripes from its slots: the backfill below, and
-- bulk loaders that fill coupon_slots set-based (bench/sql/).  Not for the
-- issue path, which moves one stripe at a time.
CREATE OR REPLACE FUNCTION shop_coupon_recount(p_coupon_id bigint) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO coupon_issued (coupon_id, stripe, issued)
    SELECT p_coupon_id, st, (SELECT count(*) FROM coupon_slots s
                              WHERE s.coupon_id = p_coupon_id AND s.user_id IS NOT NULL
                                AND s.slot % 16 = st)
      FROM generate_series(0, 15) AS st
    ON CONFLICT (coupon_id, stripe) DO UPDATE SET issued = excluded.issued
$$;
