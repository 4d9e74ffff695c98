-- shop_purge_catalog_changes: the live definition (sql/functions/README.md says how these files are applied).

-- The catalog change log's purge (mod_shop_expiry.c): rows older than
-- p_older, oldest first through the primary key, one bounded batch.  A
-- node reads only the rows of the last few seconds; an hour is plenty.
-- Returns how many rows it deleted; fewer than p_batch: caught up.
CREATE OR REPLACE FUNCTION shop_purge_catalog_changes(p_older interval, p_batch int)
    RETURNS int
    LANGUAGE sql
AS $$
    WITH d AS (
        DELETE FROM catalog_changes WHERE seq = ANY (ARRAY(
            SELECT seq FROM catalog_changes
             WHERE changed_at < now() - p_older
             ORDER BY seq LIMIT p_batch))
        RETURNING 1)
    SELECT count(*)::int FROM d
$$;
