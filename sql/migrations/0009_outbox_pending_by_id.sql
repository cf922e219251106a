-- tradedb migration 0009: the relay claims pending outbox rows in id order.
--
-- The pending index of 0005 was (lane, id): a claim over several lanes in id order had to sort
-- every pending row of those lanes (tens of thousands in a backlog) on each batch. By id alone,
-- the claim reads the index in order and stops after a batch; the lanes' "has work" checks read
-- the same small index.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

CREATE INDEX IF NOT EXISTS idx_event_outbox_pending_id ON shared.event_outbox (id) WHERE published_at IS NULL;
DROP INDEX IF EXISTS shared.idx_event_outbox_pending;
