-- shop_purge_outbox: the live definition (sql/functions/README.md says how these files are applied).

-- The retention purges, one bounded batch each (mod_shop_expiry.c calls
-- them a bounded number of times per tick, each call its own short
-- transaction).  Each reads its table through the index on the time it
-- purges by, oldest first, and deletes by ctid (sales has no key):
--   outbox            delivered before the cutoff; never an undelivered event
--   sales             paid before the cutoff (older than any ranking window);
--                     the orders themselves stay
--   idempotency_keys  created before the cutoff
-- Each returns how many rows it deleted; fewer than p_batch: caught up.
CREATE OR REPLACE FUNCTION shop_purge_outbox(p_older interval, p_batch int) RETURNS int
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
