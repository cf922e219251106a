import type { Queryable } from '../../db/queryable.ts';
import type { LogLevel } from './database-log-sink.ts';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'fatal'];

export interface LogFilter {
  /** One correlation id: its log lines, its events (shared.event_outbox) and its timed operations. */
  correlationId?: string | undefined;
  /** This level and above (default: every level). */
  minLevel?: LogLevel | undefined;
  service?: string | undefined;
  since?: Date | undefined;
  /** The newest this many lines (default 200), printed oldest first. */
  limit?: number | undefined;
}

/** One line of `tradedb logs`: a log line, an event or a timed operation. */
export interface LogLine {
  at: string;
  kind: 'log' | 'event' | 'timing';
  service: string;
  level: LogLevel;
  message: string;
  context: Record<string, unknown>;
  correlationId: string | null;
}

/**
 * The centralized log, newest `limit` lines oldest first. Following one correlation id, events
 * (type, aggregate, payload) and timed operations are merged in by time, so one query shows a
 * signal's whole path: order placed, fill, events published, consumers' work.
 */
export async function queryLogs(db: Queryable, filter: LogFilter = {}): Promise<LogLine[]> {
  const minLevel = LOG_LEVELS.indexOf(filter.minLevel ?? 'debug');
  const parameters = [filter.correlationId ?? null, LOG_LEVELS.slice(minLevel), filter.service ?? null, filter.since ?? null, filter.limit ?? 200];
  const sources = [
    `SELECT logged_at AS at, id AS seq, 'log' AS kind, service, level, message, context, correlation_id
       FROM logging.system_logs
      WHERE ($1::text IS NULL OR correlation_id = $1) AND level = ANY($2) AND ($3::text IS NULL OR service = $3) AND ($4::timestamptz IS NULL OR logged_at >= $4)`,
  ];
  if (filter.correlationId !== undefined) {
    // Events and timings have no level of their own: info, so --level warn leaves them out;
    // events count as service "events".
    sources.push(
      `SELECT occurred_at, id, 'event', 'events', 'info', event_type || ' ' || aggregate_type || '/' || aggregate_id,
              jsonb_build_object('eventId', event_id, 'topic', topic, 'payload', payload), correlation_id
         FROM shared.event_outbox
        WHERE correlation_id = $1 AND 'info' = ANY($2) AND ($3::text IS NULL OR $3 = 'events') AND ($4::timestamptz IS NULL OR occurred_at >= $4)`,
      `SELECT logged_at, id, 'timing', service, 'info', operation || ' took ' || duration_ms || ' ms' || coalesce(', ' || rows || ' rows', ''), details, correlation_id
         FROM logging.performance_logs
        WHERE correlation_id = $1 AND 'info' = ANY($2) AND ($3::text IS NULL OR service = $3) AND ($4::timestamptz IS NULL OR logged_at >= $4)`,
    );
  }
  const { rows } = await db.query<LogLine>(
    `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, kind, service, level, message, context, correlation_id AS "correlationId"
       FROM (${sources.join(' UNION ALL ')}) AS line
      ORDER BY line.at DESC, line.kind DESC, line.seq DESC
      LIMIT $5`,
    parameters,
  );
  return rows.reverse();
}
