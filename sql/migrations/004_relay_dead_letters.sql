-- Dead letters and per-order order for the outbox relay (issue 15).
--
-- A receiver that refuses an event for good (an HTTP 4xx other than 408
-- and 429) must not hold up the rest: after ShopPlatformDeadAfter such
-- refusals the relay parks the event (dead_at), never leases it again, and
-- an admin route lists it and puts it back (dead_at NULL, attempts 0).
-- Transport errors, 5xx, 408 and 429 are retried forever, as before.
--
-- Events of one order reach the platform in the order they were written:
-- the relay leases an event only when no earlier event of its order is
-- still undelivered, dead or not (so a dead ORDER_PAID holds back its
-- ORDER_CANCELLED until it is redelivered).  Each payload also carries a
-- per-order "sequence" (1 for ORDER_PAID, 2 for ORDER_CANCELLED) a
-- receiver can order by.
--
--   pending = delivered_at IS NULL AND dead_at IS NULL
--   dead    = dead_at IS NOT NULL          (a dead event is never delivered)

ALTER TABLE outbox
    ADD COLUMN dead_at      timestamptz,
    ADD COLUMN last_status  int,            -- HTTP status of the last answer; NULL: none
    ADD COLUMN refusals     int NOT NULL DEFAULT 0;  -- permanent refusals since (re)queued

-- The lease (pending events in id order, the first due ones) and the
-- status view's backlog.  Keyed on id, not next_attempt_at: the lease is
-- ORDER BY id LIMIT, and with the old index the planner walked the primary
-- key through every delivered event instead (25 ms at 200k events; 0.1 ms
-- on this one).
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) INCLUDE (next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;

-- The events of one order: the lease's "no earlier undelivered event of
-- this order" check, and the sequence number of a new event.
CREATE INDEX outbox_order ON outbox (order_id, id);

-- The dead letters, newest first (GET /admin/outbox/dead, the dead count).
CREATE INDEX outbox_dead ON outbox (id) WHERE dead_at IS NOT NULL;

-- The status view's last error: the newest pending event that failed.
CREATE INDEX outbox_failing ON outbox (id)
    WHERE delivered_at IS NULL AND dead_at IS NULL AND last_error IS NOT NULL;

-- Events not sent yet get their sequence too; delivered ones are history.
UPDATE outbox o
   SET payload = o.payload || jsonb_build_object('sequence',
           (SELECT count(*) FROM outbox e WHERE e.order_id = o.order_id AND e.id <= o.id))
 WHERE o.delivered_at IS NULL;

-- (function shop_event: sql/functions/shop_event.sql)

-- (function shop_outbox_json: sql/functions/shop_outbox_json.sql)
