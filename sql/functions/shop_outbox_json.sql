-- shop_outbox_json: the live definition (sql/functions/README.md says how these files are applied).

-- A dead letter as the admin routes show it.
CREATE OR REPLACE FUNCTION shop_outbox_json(x outbox) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'event_id', x.event_id, 'type', x.type, 'order_id', x.order_id,
        'sequence', (x.payload ->> 'sequence')::int,
        'attempts', x.attempts, 'last_error', x.last_error,
        'last_status', x.last_status, 'created_at', shop_ts(x.created_at),
        'dead_at', shop_ts(x.dead_at))
$$;
