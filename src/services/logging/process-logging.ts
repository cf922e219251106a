import type pg from 'pg';
import type { Config } from '../../config/load-config.ts';
import { DatabaseLogSink } from './database-log-sink.ts';
import { configureLogging, type LoggingTargets } from './logger.ts';

export interface ProcessLogging {
  sink: DatabaseLogSink;
  /** Writes what is queued, reports drops on stderr, and points logging back at the default. */
  stop(): Promise<void>;
}

/** How a process shows its log lines besides the database. */
export type ConsoleMode =
  /** Service processes (start, relay, worker): every line as JSON on stdout. */
  | 'service'
  /** One-shot commands: only warnings and errors, on stderr, so stdout stays the command's output. */
  | 'command';

/**
 * Sends this process's logs to logging.system_logs through a batched sink on `pool` (the logging
 * service's pool) and to the console as `mode` says. A database that refuses writes is reported
 * on stderr at most every 30 s; the lines wait (up to TRADEDB_LOG_QUEUE) and are retried.
 */
export function startProcessLogging(settings: Config['logging'], pool: pg.Pool, mode: ConsoleMode): ProcessLogging {
  let lastReport = 0;
  const sink = new DatabaseLogSink(pool, {
    capacity: settings.queueCapacity,
    onError(error) {
      if (Date.now() - lastReport < 30_000) return;
      lastReport = Date.now();
      process.stderr.write(`logging: cannot write to logging.system_logs (${error.message}); lines wait in memory, up to ${settings.queueCapacity}, and are retried\n`);
    },
  });
  const targets: LoggingTargets =
    mode === 'service' ? { level: settings.level, console: process.stdout, sink } : { level: settings.level, console: process.stderr, consoleLevel: 'warn', sink };
  configureLogging(targets);
  return {
    sink,
    async stop() {
      configureLogging(undefined);
      await sink.close();
      const { dropped, queued } = sink.stats();
      if (dropped > 0 || queued > 0) {
        process.stderr.write(`logging: ${dropped} lines dropped (queue full)${queued > 0 ? `, ${queued} not written (database unreachable)` : ''}\n`);
      }
    },
  };
}
