import pino from 'pino';
import { currentCorrelation } from '../../shared/correlation.ts';
import type { DatabaseLogSink } from './database-log-sink.ts';

export type Logger = pino.Logger;
export type LogLevelSetting = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Where this process's log lines go. */
export interface LoggingTargets {
  /** Lowest level written anywhere. */
  level: LogLevelSetting;
  /** JSON lines for people and log shippers (stdout in service processes). */
  console?: { write(line: string): unknown } | undefined;
  /** Lowest level written to the console, if higher than `level` (a one-shot command keeps its stdout for its output). */
  consoleLevel?: LogLevelSetting | undefined;
  /** logging.system_logs, through the batched sink. */
  sink?: DatabaseLogSink | undefined;
}

/** Until a process says otherwise (configureLogging): warnings and errors to stderr, nothing to the database. */
const DEFAULT_TARGETS: LoggingTargets = { level: 'warn', console: process.stderr };

let targets = DEFAULT_TARGETS;
let root = createRoot(targets);
const serviceLoggers = new Map<string, Logger>();

/**
 * Points this process's logging at `targets` (undefined: back to the default). Loggers handed out
 * before keep their old targets, so services ask for theirs when they start work (serviceLogger).
 */
export function configureLogging(next: LoggingTargets | undefined): void {
  targets = next ?? DEFAULT_TARGETS;
  root = createRoot(targets);
  serviceLoggers.clear();
}

/**
 * The logger of one service (pino): JSON lines that carry `service` and, inside withCorrelation,
 * the correlation and causation ids, so that one id finds a signal's whole path in
 * logging.system_logs (`tradedb logs --correlation ID`).
 */
export function serviceLogger(service: string): Logger {
  let logger = serviceLoggers.get(service);
  if (!logger) {
    logger = root.child({ service });
    serviceLoggers.set(service, logger);
  }
  return logger;
}

/** The database sink of this process, if logging was configured with one. */
export function activeLogSink(): DatabaseLogSink | undefined {
  return targets.sink;
}

function createRoot({ level, console, consoleLevel, sink }: LoggingTargets): Logger {
  const streams: pino.StreamEntry[] = [];
  if (console) streams.push({ level: higherLevel(level, consoleLevel), stream: console as pino.DestinationStream });
  if (sink) streams.push({ level: level === 'silent' ? 'fatal' : level, stream: sink });
  return pino(
    {
      level: streams.length === 0 ? 'silent' : level,
      mixin() {
        const correlation = currentCorrelation();
        if (!correlation) return {};
        return correlation.causationId ? { correlationId: correlation.correlationId, causationId: correlation.causationId } : { correlationId: correlation.correlationId };
      },
    },
    pino.multistream(streams),
  );
}

const ORDER: LogLevelSetting[] = ['debug', 'info', 'warn', 'error', 'silent'];

function higherLevel(level: LogLevelSetting, other: LogLevelSetting | undefined): pino.Level {
  const chosen = other !== undefined && ORDER.indexOf(other) > ORDER.indexOf(level) ? other : level;
  return chosen === 'silent' ? 'fatal' : chosen;
}
