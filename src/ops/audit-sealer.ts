import type { DatabaseConfig } from '../config/database-config.ts';
import { createOwnerPool } from '../db/owner-pool.ts';
import { Wakeup } from '../events/wakeup.ts';
import { serviceLogger } from '../services/logging/logger.ts';
import { throttledReporter } from '../services/logging/throttled-report.ts';
import { sealAuditLog } from './audit-trail.ts';

export interface RunningAuditSealer {
  /** Rows sealed since start. */
  readonly sealed: number;
  stop(): Promise<void>;
}

/**
 * Seals the audit trail every `intervalMs` (default 1 s) on a one-connection pool of the owner
 * role, so that a row is in its table's hash chain seconds after its transaction commits. The
 * chain is extended here rather than in the writing transactions so that writers of one table
 * never wait for each other (migration 0010). Errors are logged (service `audit`) at most once
 * per 30 s each, and retried.
 */
export function startAuditSealer(database: DatabaseConfig, options: { intervalMs?: number } = {}): RunningAuditSealer {
  const report = throttledReporter(serviceLogger('audit'), 'audit sealer');
  const pool = createOwnerPool(database, report);
  const wakeup = new Wakeup();
  let stopped = false;
  let sealed = 0;
  const running = (async () => {
    while (!stopped) {
      try {
        sealed += await sealAuditLog(pool);
      } catch (error) {
        if (!stopped) report(error);
      }
      await wakeup.wait(options.intervalMs ?? 1_000);
    }
  })();
  return {
    get sealed() {
      return sealed;
    },
    async stop() {
      stopped = true;
      wakeup.wake();
      await running;
      await pool.end();
    },
  };
}
