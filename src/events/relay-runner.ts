import type { Config } from '../config/load-config.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import { createOwnerPool } from '../db/owner-pool.ts';
import { serviceLogger } from '../services/logging/logger.ts';
import { throttledReporter } from '../services/logging/throttled-report.ts';
import { createEventBus } from './event-bus.ts';
import type { OutboxRelay } from './outbox-relay.ts';

export interface RunningRelay {
  mode: 'redis' | 'postgres';
  relay: OutboxRelay;
  stop(): Promise<void>;
}

/**
 * Starts an outbox relay for this configuration (Redis when REDIS_URL/REDIS_HOST is set, the
 * PostgreSQL stream otherwise) on a small pool of the owner role. Errors (Redis down, a dropped
 * connection) are logged (service `events`) at most once per 30 s each, and retried.
 */
export async function startRelay(config: Pick<Config, 'redis' | 'events'>, database: DatabaseConfig): Promise<RunningRelay> {
  const logger = serviceLogger('events');
  const report = throttledReporter(logger, 'relay');
  const pool = createOwnerPool(database, report);
  const bus = createEventBus(config);
  const relay = bus.createRelay({ pool, onError: report });
  try {
    await relay.start();
    logger.info({ mode: bus.mode }, `relay started (${bus.mode === 'redis' ? 'Redis Streams' : 'PostgreSQL stream'})`);
  } catch (error) {
    await bus.close();
    await pool.end();
    throw error;
  }
  return {
    mode: bus.mode,
    relay,
    async stop() {
      await relay.stop();
      await bus.close();
      await pool.end();
    },
  };
}
