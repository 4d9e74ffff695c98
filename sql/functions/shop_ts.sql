-- shop_ts: the live definition (sql/functions/README.md says how these files are applied).

-- Times leave the database in RFC 3339 UTC, whole seconds.
CREATE OR REPLACE FUNCTION shop_ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
