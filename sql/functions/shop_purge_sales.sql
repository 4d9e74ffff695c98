-- shop_purge_sales: the live definition (sql/functions/README.md says how these files are applied).

CREATE OR REPLACE FUNCTION shop_purge_sales(p_older interval, p_batch int) RETURNS int
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
