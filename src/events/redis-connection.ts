import { Redis } from 'ioredis';

/**
 * A Redis connection for tradedb's cache and event bus. Commands fail at once while Redis is
 * unreachable (no offline queue, one attempt), so that a caller with a fallback (the outbox
 * relay keeps rows pending, the cache reads PostgreSQL) takes it instead of waiting; the
 * connection itself keeps retrying in the background, every 0.1–2 s.
 */
export function connectRedis(url: string, name: string, options: { blocking?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: options.blocking ? null : 1,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    lazyConnect: false,
  });
  // ioredis reports each failed reconnection as an 'error' event; unhandled it would crash the
  // process, and the retry strategy already deals with it.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function redisReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis is not reachable (${timeoutMs} ms)`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
