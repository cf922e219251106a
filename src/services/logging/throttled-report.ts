import type { Logger } from 'pino';

/**
 * A warning reporter for loops that retry on their own (relay, audit sealer): each distinct
 * message is logged at most once per `intervalMs` (default 30 s), so a server that stays down
 * does not flood the log.
 */
export function throttledReporter(logger: Logger, label: string, intervalMs = 30_000): (error: unknown) => void {
  const reported = new Map<string, number>();
  return (error) => {
    const message = (error as Error | undefined)?.message ?? String(error);
    if (Date.now() - (reported.get(message) ?? 0) < intervalMs) return;
    reported.set(message, Date.now());
    logger.warn({ err: error }, `${label}: ${message} (retrying)`);
  };
}
