-- shop_discount: the live definition (sql/functions/README.md says how these files are applied).

CREATE OR REPLACE FUNCTION shop_discount(p_type text, p_value bigint, p_max bigint,
                                         p_total bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT least(p_total::numeric,
                 CASE WHEN p_type = 'FIXED' THEN p_value::numeric
                      ELSE least(coalesce(p_max, p_total)::numeric,
                                 floor(p_total::numeric * p_value / 100))
                 END)::bigint
$$;
