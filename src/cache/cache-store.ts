import type { Redis } from 'ioredis';

/**
 * Where cached values live: Redis, shared by every process, or this process's memory when there is
 * no Redis. Values are strings (JSON); every entry expires. A store is never the source of truth:
 * callers load from PostgreSQL when it has nothing or fails.
 */
export interface CacheStore {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  /** Stores `value` unless the key's generation moved past `generation` (an invalidation came in between). */
  setIfGeneration(key: string, value: string, ttlMs: number, generation: number): Promise<boolean>;
  /** The key's invalidation count (0 for a key never invalidated). */
  generation(key: string): Promise<number>;
  /** Drops the keys and moves their generations on, so loads already in flight do not store what they read. */
  invalidate(keys: string[]): Promise<void>;
  /** invalidate() of every key starting with `prefix`. */
  invalidatePrefix(prefix: string): Promise<void>;
  /** Takes a short lock (one loader per key across processes); false if another holds it. */
  tryLock(key: string, ttlMs: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
}

// Sets KEYS[1] to ARGV[1] for ARGV[2] ms only while the generation KEYS[2] is still ARGV[3].
const SET_IF_GENERATION = `if tonumber(redis.call('GET', KEYS[2]) or '0') == tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`;

/** The Redis store: keys `<prefix>:cache:<key>`, generations `<prefix>:cache-gen:<key>`. */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Generations outlive any entry: a day. */
    private readonly generationTtlMs = 86_400_000,
  ) {}

  private valueKey(key: string): string {
    return `${this.prefix}:cache:${key}`;
  }

  private generationKey(key: string): string {
    return `${this.prefix}:cache-gen:${key}`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.valueKey(key))) ?? undefined;
  }

  async setIfGeneration(key: string, value: string, ttlMs: number, generation: number): Promise<boolean> {
    return (await this.redis.eval(SET_IF_GENERATION, 2, this.valueKey(key), this.generationKey(key), value, Math.max(1, Math.round(ttlMs)), generation)) === 1;
  }

  async generation(key: string): Promise<number> {
    return Number((await this.redis.get(this.generationKey(key))) ?? 0);
  }

  async invalidate(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const key of keys) {
      pipeline.del(this.valueKey(key));
      pipeline.incr(this.generationKey(key));
      pipeline.pexpire(this.generationKey(key), this.generationTtlMs);
    }
    await pipeline.exec();
  }

  async invalidatePrefix(prefix: string): Promise<void> {
    const start = this.valueKey('').length;
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.valueKey(prefix)}*`, 'COUNT', 500);
      await this.invalidate(found.map((key) => key.slice(start)));
      cursor = next;
    } while (cursor !== '0');
  }

  async tryLock(key: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:cache-lock:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async unlock(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}:cache-lock:${key}`);
  }
}

/** This process's memory, at most `maxEntries` (the oldest written go first). */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly generations = new Map<string, number>();

  constructor(private readonly maxEntries = 10_000) {}

  async get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async setIfGeneration(key: string, value: string, ttlMs: number, generation: number): Promise<boolean> {
    if ((this.generations.get(key) ?? 0) !== generation) return false;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return true;
  }

  async generation(key: string): Promise<number> {
    return this.generations.get(key) ?? 0;
  }

  async invalidate(keys: string[]): Promise<void> {
    for (const key of keys) {
      this.entries.delete(key);
      this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    }
  }

  async invalidatePrefix(prefix: string): Promise<void> {
    await this.invalidate([...this.entries.keys()].filter((key) => key.startsWith(prefix)));
  }

  // One process: the single flight of ReadThroughCache is the lock.
  async tryLock(): Promise<boolean> {
    return true;
  }

  async unlock(): Promise<void> {}
}
