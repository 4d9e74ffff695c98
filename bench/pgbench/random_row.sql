-- Random-row counterpart of hot_row.sql: the same single-row update
-- transaction, on a random user row each time (no lock conflicts, so
-- commits overlap and share WAL flushes).
\set id random(1, :users)
BEGIN;
UPDATE users SET balance = balance WHERE id = :id::bigint RETURNING balance;
COMMIT;
