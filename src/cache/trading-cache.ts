import type { Config } from '../config/load-config.ts';
import { withAccountTransaction } from '../db/account-transaction.ts';
import type { Pools } from '../db/pools.ts';
import { connectRedis } from '../events/redis-connection.ts';
import type { EventEnvelope } from '../events/event-envelope.ts';
import type { EventBus } from '../events/event-bus.ts';
import type pg from 'pg';
import { positionRepository } from '../services/execution/position-repository.ts';
import type { PositionRow } from '../services/execution/order-table.ts';
import { MemoryCacheStore, RedisCacheStore } from './cache-store.ts';
import { ReadThroughCache, type ReadThroughOptions } from './read-through-cache.ts';

/** The newest bar of a symbol and interval, as JSON travels (decimals and times as text). */
export interface LatestBar {
  symbol: string;
  interval: string;
  ts: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string | null;
}

/** How long each kind of entry may live without an invalidation (events usually come first). */
export const CACHE_TTL_MS = { latestBar: 60_000, positions: 10_000, config: 300_000 } as const;

const keys = {
  latestBar: (symbol: string, interval: string) => `bar:latest:${interval}:${symbol}`,
  positions: (accountId: string) => `positions:${accountId}`,
  config: (key: string) => `config:${key}`,
};

/**
 * The cached reads of the trading system: the latest bar per symbol, an account's positions, a
 * system config value. Redis when configured (shared by every process), else this process's memory.
 * Reads go through the services' own pools and rules (positions under the account's row-level
 * security); entries drop on the events that change them (`invalidateFor`) and expire by TTL.
 */
export class TradingCache {
  constructor(
    readonly cache: ReadThroughCache,
    private readonly pools: Pick<Pools, 'services'>,
  ) {}

  latestBar(symbol: string, interval = '1d'): Promise<LatestBar | null> {
    return this.cache.get(keys.latestBar(symbol, interval), CACHE_TTL_MS.latestBar, async () => {
      const { rows } = await this.pools.services.data_ingestion.query<LatestBar>(
        `SELECT symbol, interval, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ts, trim_scale(open)::text AS open, trim_scale(high)::text AS high,
                trim_scale(low)::text AS low, trim_scale(close)::text AS close, trim_scale(volume)::text AS volume
           FROM data_ingestion.market_data WHERE symbol = $1 AND interval = $2 ORDER BY ts DESC LIMIT 1`,
        [symbol, interval],
      );
      return rows[0] ?? null;
    });
  }

  positions(accountId: string): Promise<PositionRow[]> {
    return this.cache.get(keys.positions(accountId), CACHE_TTL_MS.positions, () =>
      withAccountTransaction(this.pools.services.execution, accountId, (client) => positionRepository.list(client, accountId), { readOnly: true }),
    );
  }

  config(key: string): Promise<unknown> {
    return this.cache.get(keys.config(key), CACHE_TTL_MS.config, async () => {
      const { rows } = await this.pools.services.execution.query<{ value: unknown }>('SELECT value FROM shared.system_config WHERE key = $1', [key]);
      return rows[0]?.value ?? null;
    });
  }

  /**
   * Keeps this cache fresh from live events (pub/sub, or the PostgreSQL stream without Redis).
   * Each process listens, so that in-memory caches are invalidated too; an invalidation missed
   * while disconnected is bounded by the TTLs.
   */
  listenForChanges(bus: EventBus, pool: pg.Pool): Promise<{ close(): Promise<void> }> {
    return bus.listen(pool, CACHE_INVALIDATING_TOPICS, (event) => {
      void this.invalidateFor(event);
    });
  }

  /** Drops what `event` made stale. */
  async invalidateFor(event: EventEnvelope): Promise<void> {
    const payload = event.payload as Record<string, unknown>;
    switch (event.type) {
      case 'position.changed':
      case 'trade.executed':
        return this.cache.invalidate([keys.positions(String(payload.accountId))]);
      case 'config.changed':
        return this.cache.invalidate([keys.config(String(payload.key))]);
      case 'ingestion.run_finished':
        // The run does not list its symbols: every latest bar of its interval.
        return this.cache.invalidatePrefix(payload.interval ? `bar:latest:${String(payload.interval)}:` : 'bar:latest:');
    }
  }
}

/** The topics whose events invalidate TradingCache entries. */
export const CACHE_INVALIDATING_TOPICS = ['positions', 'trades', 'config', 'ingestion'];

/** A TradingCache on Redis when configured, else in memory; close() drops the Redis connection. */
export function createTradingCache(config: Pick<Config, 'redis'>, pools: Pick<Pools, 'services'>, options: ReadThroughOptions = {}): { cache: TradingCache; close(): void } {
  const redis = config.redis.url ? connectRedis(config.redis.url, 'tradedb:cache') : undefined;
  const store = redis ? new RedisCacheStore(redis, config.redis.prefix) : new MemoryCacheStore();
  return { cache: new TradingCache(new ReadThroughCache(store, options), pools), close: () => redis?.disconnect() };
}
