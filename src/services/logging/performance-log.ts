import { currentCorrelation } from '../../shared/correlation.ts';
import { activeLogSink } from './logger.ts';

/** What an operation reports about its result for logging.performance_logs. */
export interface OperationMeasure {
  rows?: number | undefined;
  details?: Record<string, unknown> | undefined;
}

/**
 * Runs `work` and records in logging.performance_logs how long it took (and, through `measure`,
 * how many rows it touched), with the correlation in progress; a failure is recorded too
 * (`details.error`) and rethrown. Without a database sink (see configureLogging) it only runs `work`.
 */
export async function timedOperation<T>(
  service: string,
  operation: string,
  work: () => Promise<T>,
  measure: (result: T) => OperationMeasure = () => ({}),
): Promise<T> {
  const startedAt = new Date();
  const started = performance.now();
  try {
    const result = await work();
    recordOperation(service, operation, startedAt, performance.now() - started, measure(result));
    return result;
  } catch (error) {
    recordOperation(service, operation, startedAt, performance.now() - started, { details: { error: (error as Error).message ?? String(error) } });
    throw error;
  }
}

/** Records an operation timed by its caller (started at `startedAt`, `durationMs` long) in logging.performance_logs. */
export function recordOperation(service: string, operation: string, startedAt: Date, durationMs: number, measure: OperationMeasure = {}): void {
  activeLogSink()?.performance({ loggedAt: startedAt, service, operation, durationMs, rows: measure.rows, details: measure.details, correlationId: currentCorrelation()?.correlationId });
}
