import type { Config } from '../config/load-config.ts';
import { UserFacingError } from '../db/errors.ts';
import type { Pools } from '../db/pools.ts';
import { serviceLogger } from '../services/logging/logger.ts';
import { createEventBus } from '../events/event-bus.ts';
import { buildApiServer } from './api-server.ts';

export interface RunningApi {
  /** Where it listens, e.g. http://127.0.0.1:8080 */
  url: string;
  stop(): Promise<void>;
}

/** Builds the API and listens on TRADEDB_API_HOST:TRADEDB_API_PORT; a port in use is named. */
export async function startApi(config: Pick<Config, 'api' | 'redis' | 'events'>, pools: Pools): Promise<RunningApi> {
  // Its own bus, for the consumer lag in /metrics.
  const bus = createEventBus(config);
  const app = await buildApiServer({ pools, bus, rateLimitPerMinute: config.api.rateLimitPerMinute });
  app.addHook('onClose', async () => bus.close());
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (error) {
    await app.close();
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      throw new UserFacingError(`The API cannot listen on ${config.api.host}:${config.api.port}: the port is in use. Set TRADEDB_API_PORT to a free one (or start with --no-api).`);
    }
    throw error;
  }
  const url = `http://${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${config.api.port}`;
  serviceLogger('api').info({ url }, `api listening on ${url} (docs at ${url}/docs)`);
  return { url, stop: () => app.close() };
}
