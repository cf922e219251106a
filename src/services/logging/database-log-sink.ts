import type pg from 'pg';
import { COPY_NULL, copyField, copyInto } from '../../db/copy-stream.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A row of logging.system_logs. */
export interface SystemLogEntry {
  loggedAt: Date;
  service: string;
  level: LogLevel;
  message: string;
  context?: Record<string, unknown> | undefined;
  correlationId?: string | undefined;
}

/** A row of logging.performance_logs: how long one operation took and how many rows it touched. */
export interface PerformanceLogEntry {
  loggedAt: Date;
  service: string;
  operation: string;
  durationMs: number;
  rows?: number | undefined;
  details?: Record<string, unknown> | undefined;
  correlationId?: string | undefined;
}

export interface LogSinkOptions {
  /** Entries waiting for the database at most; beyond it new entries are dropped and counted (default 10,000). */
  capacity?: number | undefined;
  /** How often queued entries are written (default 200 ms); a full batch is written at once. */
  flushIntervalMs?: number | undefined;
  /** Entries per COPY at most (default 5,000). */
  batchSize?: number | undefined;
  /** A failed write (the entries stay queued and go with the next try); never a log call's problem. */
  onError?: ((error: Error) => void) | undefined;
}

export interface LogSinkStats {
  written: number;
  dropped: number;
  queued: number;
  failedWrites: number;
}

const SYSTEM_LOG_COPY = 'COPY logging.system_logs (logged_at, service, level, message, context, correlation_id) FROM STDIN';
const PERFORMANCE_LOG_COPY = 'COPY logging.performance_logs (logged_at, service, operation, duration_ms, rows, details, correlation_id) FROM STDIN';
/** Backoff after failed writes: doubling from the flush interval up to this. */
const MAX_RETRY_DELAY_MS = 5_000;

/**
 * The database side of centralized logging: log lines and performance records are queued in
 * memory and written in batches by COPY, in one transaction per batch (so a failed batch is
 * retried whole, never half-written). The queue is bounded: when the database is slow or away,
 * new entries are dropped, never waited for, so logging cannot hold up trading; every drop is
 * counted, and the count is written as a warning line once the database takes writes again.
 * Also a pino destination (`write` takes one JSON line).
 */
export class DatabaseLogSink {
  private readonly capacity: number;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private systemQueue: SystemLogEntry[] = [];
  private performanceQueue: PerformanceLogEntry[] = [];
  private readonly counts = { written: 0, dropped: 0, failedWrites: 0 };
  private droppedReported = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private retryDelayMs = 0;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: LogSinkOptions = {},
  ) {
    this.capacity = options.capacity ?? 10_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.batchSize = options.batchSize ?? 5_000;
  }

  /** Queues a system log line; false when the queue was full and it was dropped. */
  log(entry: SystemLogEntry): boolean {
    return this.enqueue(this.systemQueue, entry);
  }

  /** Queues a performance record; false when the queue was full and it was dropped. */
  performance(entry: PerformanceLogEntry): boolean {
    return this.enqueue(this.performanceQueue, entry);
  }

  /** pino destination: one serialized log line. */
  write(line: string): void {
    const entry = systemLogEntryOf(line);
    if (entry) this.log(entry);
  }

  stats(): LogSinkStats {
    return { ...this.counts, queued: this.systemQueue.length + this.performanceQueue.length };
  }

  /** Writes everything queued, batch by batch, until the queue is empty or a write fails (the rest stays queued, the failure reported). */
  async flush(): Promise<void> {
    for (;;) {
      while (this.flushing) await this.flushing;
      if (this.systemQueue.length + this.performanceQueue.length === 0 && this.counts.dropped === this.droppedReported) return;
      const failuresBefore = this.counts.failedWrites;
      this.flushing = this.writeBatch().finally(() => {
        this.flushing = undefined;
      });
      await this.flushing;
      if (this.counts.failedWrites > failuresBefore) return;
    }
  }

  /** Stops the timer and writes what is left (one last try). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private enqueue<T extends { loggedAt: Date }>(queue: T[], entry: T): boolean {
    if (Number.isNaN(entry.loggedAt.getTime())) entry = { ...entry, loggedAt: new Date() };
    if (this.closed || this.systemQueue.length + this.performanceQueue.length >= this.capacity) {
      this.counts.dropped += 1;
      return false;
    }
    queue.push(entry);
    if (this.systemQueue.length + this.performanceQueue.length >= this.batchSize && !this.flushing && this.retryDelayMs === 0) {
      void this.flush();
    } else {
      this.schedule(this.flushIntervalMs);
    }
    return true;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private async writeBatch(): Promise<void> {
    const systemBatch = this.systemQueue.splice(0, this.batchSize);
    const performanceBatch = this.performanceQueue.splice(0, Math.max(0, this.batchSize - systemBatch.length));
    const dropped = this.counts.dropped - this.droppedReported;
    if (dropped > 0) systemBatch.push(droppedLinesEntry(dropped, this.capacity));
    try {
      await this.copyBatch(systemBatch, performanceBatch);
      this.counts.written += systemBatch.length + performanceBatch.length - (dropped > 0 ? 1 : 0);
      this.droppedReported += dropped;
      this.retryDelayMs = 0;
    } catch (error) {
      if (isBadData(error)) {
        // One entry the table refuses must not hold the others back forever.
        await this.copyOneByOne(systemBatch, performanceBatch);
        this.droppedReported += dropped;
        return this.scheduleRest();
      }
      if (dropped > 0) systemBatch.pop();
      this.systemQueue = systemBatch.concat(this.systemQueue);
      this.performanceQueue = performanceBatch.concat(this.performanceQueue);
      this.counts.failedWrites += 1;
      this.retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, Math.max(this.flushIntervalMs, this.retryDelayMs * 2));
      this.options.onError?.(error as Error);
    }
    this.scheduleRest();
  }

  private scheduleRest(): void {
    if (this.systemQueue.length + this.performanceQueue.length > 0 || this.counts.dropped > this.droppedReported) {
      this.schedule(this.retryDelayMs || this.flushIntervalMs);
    }
  }

  /** Both kinds of entries in one transaction: all of the batch or none of it. */
  private async copyBatch(systemBatch: SystemLogEntry[], performanceBatch: PerformanceLogEntry[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (systemBatch.length > 0) await copyInto(client, SYSTEM_LOG_COPY, [systemBatch.map(systemLogLine).join('')]);
      if (performanceBatch.length > 0) await copyInto(client, PERFORMANCE_LOG_COPY, [performanceBatch.map(performanceLogLine).join('')]);
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      // The connection may be broken or mid-transaction: discard it rather than hand it back.
      client.release(error as Error);
      throw error;
    }
  }

  /**
   * After the table refused a batch (a value it cannot hold): each entry alone, and in place of
   * one it refuses, a line saying so, so that nothing vanishes without a trace.
   */
  private async copyOneByOne(systemBatch: SystemLogEntry[], performanceBatch: PerformanceLogEntry[]): Promise<void> {
    const entries = [...systemBatch.map((entry) => ({ system: entry })), ...performanceBatch.map((entry) => ({ performance: entry }))];
    for (const entry of entries) {
      const original = 'system' in entry ? entry.system : entry.performance;
      try {
        await this.copyBatch('system' in entry ? [entry.system] : [], 'performance' in entry ? [entry.performance] : []);
        this.counts.written += 1;
      } catch (error) {
        const refused: SystemLogEntry = {
          loggedAt: original.loggedAt,
          service: 'logging',
          level: 'error',
          message: `a log entry of ${JSON.stringify(original.service)} was refused by the database: ${(error as Error).message}`,
          correlationId: original.correlationId,
        };
        await this.copyBatch([refused], []).then(
          () => (this.counts.written += 1),
          () => (this.counts.dropped += 1),
        );
      }
    }
  }
}

/** SQLSTATE class 22 (data exception) or 23 (integrity constraint violation): retrying will not help. */
function isBadData(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

const PINO_LEVELS: Record<number, LogLevel> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields of a pino line that have columns of their own, or that every line of a process repeats. */
const NOT_CONTEXT = new Set(['level', 'time', 'msg', 'service', 'correlationId', 'pid', 'hostname']);

/** A pino JSON line as a system_logs row; undefined for a line that is not one (never thrown). */
export function systemLogEntryOf(line: string): SystemLogEntry | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const context: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!NOT_CONTEXT.has(key)) context[key] = value;
  return {
    loggedAt: new Date(typeof record.time === 'number' || typeof record.time === 'string' ? record.time : Date.now()),
    service: typeof record.service === 'string' && record.service.trim() !== '' ? record.service : 'tradedb',
    level: PINO_LEVELS[record.level as number] ?? 'info',
    message: typeof record.msg === 'string' ? record.msg : '',
    context,
    correlationId: typeof record.correlationId === 'string' ? record.correlationId : undefined,
  };
}

function droppedLinesEntry(dropped: number, capacity: number): SystemLogEntry {
  return {
    loggedAt: new Date(),
    service: 'logging',
    level: 'warn',
    message: `log sink dropped ${dropped} lines: its queue of ${capacity} was full (the database was slow or away)`,
    context: { dropped, capacity },
  };
}

function systemLogLine(entry: SystemLogEntry): string {
  return `${entry.loggedAt.toISOString()}\t${copyField(entry.service)}\t${entry.level}\t${copyField(entry.message)}\t${jsonField(entry.context)}\t${copyField(entry.correlationId)}\n`;
}

function performanceLogLine(entry: PerformanceLogEntry): string {
  const duration = Number.isFinite(entry.durationMs) ? Math.min(Math.max(0, entry.durationMs), 99_999_999_999) : 0;
  const rows = entry.rows === undefined || !Number.isFinite(entry.rows) ? COPY_NULL : String(Math.max(0, Math.trunc(entry.rows)));
  return `${entry.loggedAt.toISOString()}\t${copyField(entry.service)}\t${copyField(entry.operation)}\t${duration.toFixed(3)}\t${rows}\t${jsonField(entry.details)}\t${copyField(entry.correlationId)}\n`;
}

/** A JSON object as a COPY field; a value JSON cannot hold (a cycle, a bigint) is described instead. */
function jsonField(value: Record<string, unknown> | undefined): string {
  try {
    return copyField(JSON.stringify(value ?? {}));
  } catch (error) {
    return copyField(JSON.stringify({ unserializable: (error as Error).message }));
  }
}
