import type { Queryable } from '../../db/queryable.ts';

export interface NotificationStatus {
  /** Attempts waiting (due now or retrying later). */
  pending: number;
  /** In the last 24 hours. */
  sent: number;
  failedAttempts: number;
  /** Notifications whose last attempt failed with no retry left, in the last 24 hours. */
  givenUp: number;
  suppressed: number;
}

/** The notification service at a glance, for `tradedb status`. */
export async function collectNotificationStatus(db: Queryable): Promise<NotificationStatus> {
  const { rows } = await db.query<NotificationStatus>(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'sent' AND created_at > now() - interval '1 day')::int AS sent,
            count(*) FILTER (WHERE status = 'failed' AND created_at > now() - interval '1 day')::int AS "failedAttempts",
            count(*) FILTER (WHERE status = 'failed' AND created_at > now() - interval '1 day'
                               AND NOT EXISTS (SELECT FROM notification.notification_logs next
                                                WHERE next.config_id = l.config_id AND next.event_id = l.event_id AND next.attempt = l.attempt + 1))::int AS "givenUp",
            count(*) FILTER (WHERE status = 'suppressed' AND created_at > now() - interval '1 day')::int AS suppressed
       FROM notification.notification_logs l`,
  );
  return rows[0]!;
}

export function formatNotificationStatus(status: NotificationStatus): string {
  const givenUp = status.givenUp > 0 ? `, ${status.givenUp} GIVEN UP (tradedb notifications log)` : '';
  return `Notifications last 24 h: ${status.sent} sent, ${status.failedAttempts} failed attempts${givenUp}, ${status.suppressed} suppressed; ${status.pending} pending`;
}
