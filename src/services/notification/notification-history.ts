import type { Queryable } from '../../db/queryable.ts';

/** One attempt to notify, as `tradedb notifications log` shows it. */
export interface NotificationAttempt {
  id: number;
  config: string;
  channel: string;
  eventType: string | null;
  eventId: string;
  severity: string | null;
  status: 'pending' | 'sent' | 'failed' | 'suppressed';
  attempt: number;
  error: string | null;
  subject: string | null;
  createdAt: string;
  sentAt: string | null;
}

/** The newest `limit` attempts (of one config, if named), newest first. */
export async function notificationHistory(db: Queryable, options: { config?: string | undefined; limit?: number | undefined } = {}): Promise<NotificationAttempt[]> {
  const { rows } = await db.query<NotificationAttempt>(
    `SELECT l.id::float8 AS id, c.name AS config, c.channel, l.event_type AS "eventType", l.event_id AS "eventId", l.severity, l.status, l.attempt, l.error,
            l.message->>'subject' AS subject, l.created_at AS "createdAt", l.sent_at AS "sentAt"
       FROM notification.notification_logs l JOIN notification.notification_configs c ON c.id = l.config_id
      WHERE $1::text IS NULL OR c.name = $1
      ORDER BY l.id DESC
      LIMIT $2`,
    [options.config ?? null, options.limit ?? 50],
  );
  return rows;
}
