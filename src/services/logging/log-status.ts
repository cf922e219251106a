import type { Queryable } from '../../db/queryable.ts';

export interface LogStatus {
  /** In the last hour. */
  errors: number;
  warnings: number;
  /** Lines the processes' sinks dropped in the last 24 hours (queue full), as they reported them. */
  droppedLastDay: number;
}

/** The centralized log at a glance, for `tradedb status`. */
export async function collectLogStatus(db: Queryable): Promise<LogStatus> {
  const { rows } = await db.query<LogStatus>(
    `SELECT count(*) FILTER (WHERE level IN ('error', 'fatal') AND logged_at > now() - interval '1 hour')::int AS errors,
            count(*) FILTER (WHERE level = 'warn' AND logged_at > now() - interval '1 hour')::int AS warnings,
            coalesce(sum((context->>'dropped')::bigint) FILTER (WHERE service = 'logging' AND context ? 'dropped'), 0)::int AS "droppedLastDay"
       FROM logging.system_logs
      WHERE logged_at > now() - interval '1 day'`,
  );
  return rows[0]!;
}

export function formatLogStatus(status: LogStatus): string {
  const dropped = status.droppedLastDay > 0 ? `; ${status.droppedLastDay} lines DROPPED in 24 h (database slow or away; TRADEDB_LOG_QUEUE)` : '';
  return `Logs          last hour: ${status.errors} errors, ${status.warnings} warnings (tradedb logs --level warn --since 1h)${dropped}`;
}
