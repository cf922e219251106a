-- tradedb migration 0007: notification delivery.
--
-- The notification dispatcher (a consumer of every topic) queues one notification_logs row per
-- matching config and event, in the transaction that marks the event handled: status pending, the
-- message to send, when to try. The delivery loop claims due rows (FOR UPDATE SKIP LOCKED), sends,
-- and records the outcome; a failure queues the next attempt with backoff. A quiet period turns a
-- repeat of the same event type into a `suppressed` row. One config is there from the start, so
-- that errors (a dead-lettered event, a failed flow) always raise a notification somewhere.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

ALTER TABLE notification.notification_logs
    ADD COLUMN IF NOT EXISTS severity        text CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    ADD COLUMN IF NOT EXISTS message         jsonb CHECK (jsonb_typeof(message) = 'object'),
    ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz;

COMMENT ON COLUMN notification.notification_logs.message IS
    'What is sent: subject, text, severity and the event (type, aggregate, payload, correlation id).';
COMMENT ON COLUMN notification.notification_logs.next_attempt_at IS
    'When a pending attempt is due.';

CREATE INDEX IF NOT EXISTS idx_notification_logs_due
    ON notification.notification_logs (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS idx_notification_logs_quiet
    ON notification.notification_logs (config_id, event_type, created_at DESC) WHERE attempt = 1;

INSERT INTO notification.notification_configs (name, channel, min_severity)
VALUES ('errors-to-log', 'log', 'error')
ON CONFLICT (name) DO NOTHING;
