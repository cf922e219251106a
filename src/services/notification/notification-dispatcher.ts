import type { EventHandler } from '../../events/event-handling.ts';
import { eventSeverity, notificationMessage, wants, type Severity } from './notification-rules.ts';

/** The channel the delivery loop LISTENs on: pending notifications were queued. */
export const NOTIFICATION_WAKE_CHANNEL = 'tradedb_notifications';

interface EnabledConfig {
  id: number;
  eventTypes: string[];
  minSeverity: Severity;
  quiet: boolean;
}

/**
 * The consumer handler of the notification service: for each enabled config that wants the event,
 * one notification_logs row in the handler's transaction (so a redelivered event queues nothing
 * twice): `pending`, due now, with the message to send; or `suppressed` when a notification of
 * the same type went out through that config within its quiet period. Sending is the delivery
 * loop's work, outside this transaction.
 */
export const dispatchNotifications: EventHandler = async (event, tx) => {
  const severity = eventSeverity(event);
  const { rows: configs } = await tx.query<EnabledConfig>(
    `SELECT id::float8 AS id, event_types AS "eventTypes", min_severity AS "minSeverity", quiet_period > '0' AS quiet
       FROM notification.notification_configs WHERE enabled ORDER BY id`,
  );
  const wanted = configs.filter((config) => wants(config, event, severity));
  if (wanted.length === 0) return;
  const message = JSON.stringify(notificationMessage(event, severity));
  for (const config of wanted) {
    // Two consumers handling two events of one type at once must not both find the quiet period empty.
    if (config.quiet) await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [config.id, event.type]);
    await tx.query(
      `WITH quiet AS (
         SELECT EXISTS (SELECT FROM notification.notification_logs l JOIN notification.notification_configs c ON c.id = l.config_id
                         WHERE l.config_id = $1 AND l.event_type = $3 AND l.attempt = 1 AND l.status <> 'suppressed'
                           AND l.created_at > now() - c.quiet_period) AS suppressed)
       INSERT INTO notification.notification_logs (config_id, event_id, event_type, severity, status, attempt, message, next_attempt_at)
       SELECT $1, $2, $3, $4, CASE WHEN suppressed THEN 'suppressed' ELSE 'pending' END, 1, $5::jsonb, CASE WHEN suppressed THEN NULL ELSE now() END
         FROM quiet
       ON CONFLICT ON CONSTRAINT notification_logs_attempt_key DO NOTHING`,
      [config.id, event.eventId, event.type, severity, message],
    );
  }
  await tx.query(`SELECT pg_notify('${NOTIFICATION_WAKE_CHANNEL}', '')`);
};
