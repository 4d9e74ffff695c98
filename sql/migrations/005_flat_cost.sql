-- Flat cost as data grows (issue 13): no route or job gets slower because
-- tables got bigger.
--
-- 1. A campaign's remaining quantity from striped counters instead of a
--    count of its free slot rows (a count read every free slot: 500,000
--    index entries for a half-issued campaign of 1,000,000).  Each
--    campaign has COUPON_STRIPES (16) rows in coupon_issued; an issue adds
--    one to stripe `slot % 16` in its own transaction, so concurrent issues,
--    which claim different slots, update different rows: no hot row.  The
--    count stays exact: a stripe moves only with a slot's owner, in the same
--    transaction (shop_issue_coupon, 007).  remaining = total - sum(issued):
--    16 index entries whatever the campaign's size.
--
-- 2. Indexes that match the retention purges (mod_shop_expiry.c) and the
--    status view / relay lookups, so their cost follows what they touch,
--    not the size of the outbox:
--      outbox_delivered_at   purge of delivered events past ShopOutboxRetention
--    (the relay's lease and the status view's last error use outbox_pending
--    and outbox_failing, keyed on id, from 004)
--    (sales_paid_at and idempotency_keys_created_at, which the other two
--    purges use, exist already.)

CREATE TABLE coupon_issued (
    coupon_id  bigint NOT NULL REFERENCES coupons (id),
    stripe     smallint NOT NULL CHECK (stripe BETWEEN 0 AND 15),
    issued     int NOT NULL DEFAULT 0 CHECK (issued >= 0),
    PRIMARY KEY (coupon_id, stripe)
);

-- Rebuilds a campaign's stripes from its slots: the backfill below, and
-- bulk loaders that fill coupon_slots set-based (bench/sql/).  Not for the
-- issue path, which moves one stripe at a time.
CREATE FUNCTION shop_coupon_recount(p_coupon_id bigint) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO coupon_issued (coupon_id, stripe, issued)
    SELECT p_coupon_id, st, (SELECT count(*) FROM coupon_slots s
                              WHERE s.coupon_id = p_coupon_id AND s.user_id IS NOT NULL
                                AND s.slot % 16 = st)
      FROM generate_series(0, 15) AS st
    ON CONFLICT (coupon_id, stripe) DO UPDATE SET issued = excluded.issued
$$;

INSERT INTO coupon_issued (coupon_id, stripe, issued)
SELECT c.id, st, 0 FROM coupons c, generate_series(0, 15) AS st;
UPDATE coupon_issued i SET issued = t.n
  FROM (SELECT coupon_id, (slot % 16)::smallint AS stripe, count(*) AS n
          FROM coupon_slots WHERE user_id IS NOT NULL
         GROUP BY 1, 2) t
 WHERE i.coupon_id = t.coupon_id AND i.stripe = t.stripe;

-- A campaign as the API shows it; remaining from its 16 stripes.  Never
-- below zero, even if slots were added behind the module's back.
CREATE OR REPLACE FUNCTION shop_coupon_json(c coupons) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'id', c.id, 'name', c.name, 'discount_type', c.discount_type,
        'discount_value', c.discount_value, 'max_discount', c.max_discount,
        'min_order_amount', c.min_order_amount,
        'total_quantity', c.total_quantity,
        'remaining_quantity', greatest(0, c.total_quantity
                                 - (SELECT coalesce(sum(i.issued), 0) FROM coupon_issued i
                                     WHERE i.coupon_id = c.id)),
        'issue_starts_at', shop_ts(c.issue_starts_at),
        'issue_ends_at', shop_ts(c.issue_ends_at), 'valid_days', c.valid_days)
$$;

-- Creates a campaign with its slots and its 16 stripes.
CREATE OR REPLACE FUNCTION shop_create_coupon(p_name text, p_type text, p_value bigint,
                                   p_max bigint, p_min bigint, p_quantity int,
                                   p_starts timestamptz, p_ends timestamptz,
                                   p_valid_days int) RETURNS json
    LANGUAGE plpgsql
AS $$
DECLARE
    v coupons;
BEGIN
    INSERT INTO coupons (name, discount_type, discount_value, max_discount,
                         min_order_amount, total_quantity, issue_starts_at,
                         issue_ends_at, valid_days)
    VALUES (p_name, p_type, p_value, p_max, coalesce(p_min, 0), p_quantity,
            coalesce(p_starts, now()), coalesce(p_ends, now() + interval '30 days'),
            coalesce(p_valid_days, 30))
    RETURNING * INTO v;
    INSERT INTO coupon_slots (coupon_id, slot)
    SELECT v.id, s FROM generate_series(1, p_quantity) AS s;
    INSERT INTO coupon_issued (coupon_id, stripe)
    SELECT v.id, st FROM generate_series(0, 15) AS st;
    RETURN shop_coupon_json(v);
END
$$;

-- An issue claims the lowest free slot through the partial index
-- coupon_slots_free.  Keyed on slot + 0, an order the primary key cannot
-- give, so the planner never prefers the primary key with a filter on
-- user_id (which walks every slot claimed so far: measured 3 ms and 7,215
-- buffers per issue at 13,000 claims; the two indexes cost the same while
-- the statistics say all slots are free).  shop_issue_coupon (007) orders
-- by slot + 0.  The claim still walks past the entries of slots claimed
-- since the last vacuum (221 index pages at 56,000 claims, 0.9 ms); the
-- default autovacuum waits for 20 % of the table to be dead (200,000
-- claims of a 1,000,000 campaign); vacuumed every 10,000 claims instead,
-- that walk stays short whatever the campaign's size.
DROP INDEX coupon_slots_free;
CREATE INDEX coupon_slots_free ON coupon_slots (coupon_id, (slot + 0))
    WHERE user_id IS NULL;
ALTER TABLE coupon_slots SET (autovacuum_vacuum_scale_factor = 0,
                              autovacuum_vacuum_threshold = 10000);

-- Retention and lookups (see the header).
CREATE INDEX outbox_delivered_at ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

-- The retention purges, one bounded batch each (mod_shop_expiry.c calls
-- them a bounded number of times per tick, each call its own short
-- transaction).  Each reads its table through the index on the time it
-- purges by, oldest first, and deletes by ctid (sales has no key):
--   outbox            delivered before the cutoff; never an undelivered event
--   sales             paid before the cutoff (older than any ranking window);
--                     the orders themselves stay
--   idempotency_keys  created before the cutoff
-- Each returns how many rows it deleted; fewer than p_batch: caught up.
CREATE FUNCTION shop_purge_outbox(p_older interval, p_batch int) RETURNS int
    LANGUAGE sql
AS $$
    WITH d AS (
        DELETE FROM outbox WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM outbox
             WHERE delivered_at < now() - p_older
             ORDER BY delivered_at LIMIT p_batch))
           AND delivered_at IS NOT NULL
        RETURNING 1)
    SELECT count(*)::int FROM d
$$;

CREATE FUNCTION shop_purge_sales(p_older interval, p_batch int) RETURNS int
    LANGUAGE sql
AS $$
    WITH d AS (
        DELETE FROM sales WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM sales
             WHERE paid_at < now() - p_older
             ORDER BY paid_at LIMIT p_batch))
        RETURNING 1)
    SELECT count(*)::int FROM d
$$;

CREATE FUNCTION shop_purge_idempotency_keys(p_older interval, p_batch int) RETURNS int
    LANGUAGE sql
AS $$
    WITH d AS (
        DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM idempotency_keys
             WHERE created_at < now() - p_older
             ORDER BY created_at LIMIT p_batch))
           AND created_at < now() - p_older
        RETURNING 1)
    SELECT count(*)::int FROM d
$$;
