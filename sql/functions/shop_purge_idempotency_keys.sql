-- shop_purge_idempotency_keys: the live definition (sql/functions/README.md says how these files are applied).

CREATE OR REPLACE FUNCTION shop_purge_idempotency_keys(p_older interval, p_batch int) RETURNS int
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
