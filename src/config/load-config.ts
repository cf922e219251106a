import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import {
  READONLY_ROLE,
  SCHEMAS,
  SERVICE_NAMES,
  serviceRole,
  type DatabaseConfig,
  type PoolSettings,
  type ServiceDatabaseConfig,
  type ServiceName,
} from './database-config.ts';
import { ACTOR_PATTERN, envSchema, type Env, type PoolName } from './env-schema.ts';

/** The OS user running the process, made safe for a connection's startup options. */
function defaultActor(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  const actor = user.replace(/[^A-Za-z0-9_.:@\/-]/g, '_').slice(0, 64);
  return ACTOR_PATTERN.test(actor) ? actor : 'unknown';
}

/** The one typed, validated configuration of a tradedb process. */
export interface Config {
  database: DatabaseConfig;
  redis: {
    /** Unset: no Redis; cache and events run on PostgreSQL alone. */
    url?: string | undefined;
    /** Prefix of every key and channel. */
    prefix: string;
  };
  events: {
    /** Published outbox rows are kept this long (so an emptied Redis can be refilled). */
    retentionMs: number;
    /** Approximate length each Redis stream is trimmed to. */
    streamMaxLength: number;
    /** Handler failures on one event before it goes to the dead-letter stream. */
    maxAttempts: number;
  };
  backup: {
    /** Absolute directory of dump files and manifests. */
    directory: string;
    keepDaily: number;
    keepWeekly: number;
    /** Where pg_dump/pg_restore are, if not on PATH. */
    clientBinDir?: string | undefined;
  };
  worker: {
    concurrency: number;
    staleAfterMs: number;
  };
  maintenance: {
    logRetentionDays: number;
    /** Unset: intraday bars are kept forever. */
    intradayRetentionDays?: number | undefined;
  };
  api: {
    host: string;
    port: number;
    /** Requests a minute per token (per address before authentication). */
    rateLimitPerMinute: number;
  };
  logging: {
    /** Lowest level that service processes log (stdout and the database). */
    level: 'debug' | 'info' | 'warn' | 'error';
    /** Lines waiting for the database at most; more are dropped and counted. */
    queueCapacity: number;
  };
  notifications: {
    /** pgcrypto key of notification targets; unset: only the log and redis channels work. */
    encryptionKey?: string | undefined;
    /** Only for `tradedb secrets rotate-key`: the key to re-encrypt under. */
    newEncryptionKey?: string | undefined;
    maxAttempts: number;
    /** Before the second attempt; doubled for each next one. */
    retryBaseMs: number;
  };
  /** Where the values came from, for `tradedb config`. */
  sources: { envFile?: string | undefined };
}

/** A configuration value is wrong; `problems` names each variable and what it expects. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** `.env` file to read; defaults to `.env` in the working directory, if present. False: none. */
  envFile?: string | false;
  /** Base for relative paths such as TRADEDB_DATA_DIR; defaults to the working directory. */
  cwd?: string;
}

/**
 * Reads the environment (and `.env`, whose values the real environment overrides), validates
 * every variable and returns one Config. Throws ConfigError listing every bad variable.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const envFile = options.envFile === false ? undefined : path.resolve(cwd, options.envFile ?? '.env');
  const fileValues = envFile && existsSync(envFile) ? readEnvFile(envFile) : {};
  const raw = { ...fileValues, ...(options.env ?? process.env) };

  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '(environment)');
        return `${name}=${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
      }),
    );
  }
  return {
    database: toDatabaseConfig(parsed.data, cwd),
    redis: { url: redisUrl(parsed.data), prefix: parsed.data.TRADEDB_REDIS_PREFIX },
    events: {
      retentionMs: parsed.data.TRADEDB_EVENT_RETENTION_HOURS * 3_600_000,
      streamMaxLength: parsed.data.TRADEDB_STREAM_MAXLEN,
      maxAttempts: parsed.data.TRADEDB_EVENT_MAX_ATTEMPTS,
    },
    backup: {
      directory: path.resolve(cwd, parsed.data.TRADEDB_BACKUP_DIR),
      keepDaily: parsed.data.TRADEDB_BACKUP_KEEP_DAILY,
      keepWeekly: parsed.data.TRADEDB_BACKUP_KEEP_WEEKLY,
      clientBinDir: parsed.data.TRADEDB_PG_BIN,
    },
    worker: { concurrency: parsed.data.TRADEDB_WORKER_CONCURRENCY, staleAfterMs: parsed.data.TRADEDB_WORKER_STALE_SECONDS * 1000 },
    maintenance: { logRetentionDays: parsed.data.TRADEDB_RETENTION_LOG_DAYS, intradayRetentionDays: parsed.data.TRADEDB_RETENTION_INTRADAY_DAYS },
    api: { host: parsed.data.TRADEDB_API_HOST, port: parsed.data.TRADEDB_API_PORT, rateLimitPerMinute: parsed.data.TRADEDB_API_RATE_LIMIT },
    logging: { level: parsed.data.TRADEDB_LOG_LEVEL, queueCapacity: parsed.data.TRADEDB_LOG_QUEUE },
    notifications: {
      encryptionKey: parsed.data.TRADEDB_ENCRYPTION_KEY,
      newEncryptionKey: parsed.data.TRADEDB_NEW_ENCRYPTION_KEY,
      maxAttempts: parsed.data.TRADEDB_NOTIFY_MAX_ATTEMPTS,
      retryBaseMs: parsed.data.TRADEDB_NOTIFY_RETRY_SECONDS * 1000,
    },
    sources: { envFile: envFile && existsSync(envFile) ? envFile : undefined },
  };
}

function readEnvFile(file: string): Record<string, string> {
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (error) {
    throw new ConfigError([`${file}: cannot be read as KEY=value lines (${(error as Error).message})`]);
  }
}

function toDatabaseConfig(env: Env, cwd: string): DatabaseConfig {
  const pool = (name: PoolName): PoolSettings => ({
    max: env[`TRADEDB_POOL_MAX_${name.toUpperCase() as Uppercase<PoolName>}`] ?? env.TRADEDB_POOL_MAX,
    idleTimeoutMs: env.TRADEDB_POOL_IDLE_TIMEOUT_MS,
    connectionTimeoutMs: env.TRADEDB_POOL_CONNECTION_TIMEOUT_MS,
    statementTimeoutMs: env.TRADEDB_STATEMENT_TIMEOUT_MS,
  });
  const adminUrl = env.DATABASE_URL ? new URL(env.DATABASE_URL) : undefined;
  const external = Boolean(env.POSTGRES_HOST || adminUrl);
  const orchestrationUrl = env.ORCHESTRATION_DATABASE_URL ? new URL(env.ORCHESTRATION_DATABASE_URL) : undefined;

  const services = Object.fromEntries(
    SERVICE_NAMES.map((service): [ServiceName, ServiceDatabaseConfig] => [
      service,
      {
        service,
        schema: SCHEMAS[service],
        user: serviceRole(service),
        password: env[`${service.toUpperCase() as Uppercase<ServiceName>}_DB_PASSWORD`] ?? env.SERVICE_DB_PASSWORD,
        pool: pool(service),
      },
    ]),
  ) as Record<ServiceName, ServiceDatabaseConfig>;

  return {
    server: {
      mode: external ? 'external' : 'embedded',
      host: adminUrl?.hostname || env.POSTGRES_HOST || '127.0.0.1',
      port: adminUrl?.port ? Number(adminUrl.port) : external ? env.POSTGRES_PORT : env.TRADEDB_EMBEDDED_PORT,
      admin: {
        user: adminUrl?.username ? decodeURIComponent(adminUrl.username) : env.POSTGRES_USER,
        password: adminUrl?.password ? decodeURIComponent(adminUrl.password) : env.POSTGRES_PASSWORD,
      },
      maintenanceDatabase: adminUrl && adminUrl.pathname.length > 1 ? decodeURIComponent(adminUrl.pathname.slice(1)) : 'postgres',
      sslmode: env.POSTGRES_SSLMODE,
    },
    actor: env.TRADEDB_ACTOR ?? defaultActor(),
    embedded: { dataDir: path.resolve(cwd, env.TRADEDB_DATA_DIR), port: env.TRADEDB_EMBEDDED_PORT },
    trading: {
      database: env.TRADING_DB_NAME,
      owner: { user: env.TRADING_DB_USER, password: env.TRADING_DB_PASSWORD },
    },
    services,
    readonly: { user: READONLY_ROLE, password: env.READONLY_DB_PASSWORD ?? env.SERVICE_DB_PASSWORD },
    orchestration: {
      database: orchestrationUrl?.pathname.slice(1) || env.ORCHESTRATION_DB_NAME,
      user: orchestrationUrl?.username ? decodeURIComponent(orchestrationUrl.username) : env.ORCHESTRATION_DB_USER,
      password: orchestrationUrl?.password ? decodeURIComponent(orchestrationUrl.password) : env.ORCHESTRATION_DB_PASSWORD,
      url: env.ORCHESTRATION_DATABASE_URL,
      pool: pool('orchestration'),
    },
  };
}

function redisUrl(env: Env): string | undefined {
  if (env.REDIS_URL) return env.REDIS_URL;
  return env.REDIS_HOST ? `redis://${env.REDIS_HOST}:${env.REDIS_PORT}` : undefined;
}
