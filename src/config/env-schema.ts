import { z } from 'zod';
import { SERVICE_NAMES } from './database-config.ts';

/** Empty strings in .env files mean "not set", as they do for most tools. */
/** An audit actor: safe to pass in a connection's startup options unquoted. */
export const ACTOR_PATTERN = /^[A-Za-z0-9_.:@\/-]{1,64}$/;

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const port = (fallback: number) =>
  optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, 'expected a port number between 1 and 65535')
      .transform(Number)
      .refine((value) => value >= 1 && value <= 65535, 'expected a port number between 1 and 65535')
      .optional()
      .transform((value) => value ?? fallback),
  );

const optionalPositiveInteger = (what: string) =>
  optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, `expected a whole number of ${what} above 0`)
      .transform(Number)
      .refine((value) => value > 0, `expected a whole number of ${what} above 0`)
      .optional(),
  );

const positiveInteger = (fallback: number, what: string) =>
  optionalPositiveInteger(what).transform((value) => value ?? fallback);

const identifier = (fallback: string) =>
  optionalText.pipe(
    z
      .string()
      .regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        'expected a lower-case PostgreSQL name: letters, digits and _, starting with a letter or _, at most 63 characters',
      )
      .optional()
      .transform((value) => value ?? fallback),
  );

const postgresUrl = optionalText.pipe(
  z
    .string()
    .refine((value) => /^postgres(ql)?:\/\/.+/.test(value) && URL.canParse(value), {
      message: 'expected a URL like postgres://user:password@host:5432/database',
    })
    .optional(),
);

const redisUrl = optionalText.pipe(
  z
    .string()
    .refine((value) => /^rediss?:\/\/.+/.test(value) && URL.canParse(value), {
      message: 'expected a URL like redis://127.0.0.1:6379/0',
    })
    .optional(),
);

const servicePasswordVariables = Object.fromEntries(
  SERVICE_NAMES.map((service) => [`${service.toUpperCase()}_DB_PASSWORD`, optionalText]),
) as Record<`${Uppercase<(typeof SERVICE_NAMES)[number]>}_DB_PASSWORD`, typeof optionalText>;

export const POOL_NAMES = [...SERVICE_NAMES, 'orchestration'] as const;
export type PoolName = (typeof POOL_NAMES)[number];

const servicePoolVariables = Object.fromEntries(
  POOL_NAMES.map((name) => [`TRADEDB_POOL_MAX_${name.toUpperCase()}`, optionalPositiveInteger('connections')]),
) as Record<`TRADEDB_POOL_MAX_${Uppercase<PoolName>}`, ReturnType<typeof optionalPositiveInteger>>;

/**
 * Every environment variable tradedb reads, with its default. The README's table is
 * generated from the same list (`tradedb config --help` prints it too).
 */
export const envSchema = z.object({
  POSTGRES_HOST: optionalText,
  POSTGRES_PORT: port(5432),
  POSTGRES_USER: identifier('postgres'),
  POSTGRES_PASSWORD: optionalText,
  POSTGRES_SSLMODE: optionalText.pipe(
    z.enum(['disable', 'prefer', 'require', 'verify-full']).optional().transform((value) => value ?? 'prefer'),
  ),
  DATABASE_URL: postgresUrl,
  TRADING_DB_NAME: identifier('trading_system'),
  TRADING_DB_USER: identifier('trading_user'),
  TRADING_DB_PASSWORD: optionalText,
  SERVICE_DB_PASSWORD: optionalText,
  ...servicePasswordVariables,
  READONLY_DB_PASSWORD: optionalText,
  ORCHESTRATION_DB_NAME: identifier('orchestration'),
  ORCHESTRATION_DB_USER: identifier('orchestration_user'),
  ORCHESTRATION_DB_PASSWORD: optionalText,
  ORCHESTRATION_DATABASE_URL: postgresUrl,
  REDIS_HOST: optionalText,
  REDIS_PORT: port(6379),
  REDIS_URL: redisUrl,
  TRADEDB_REDIS_PREFIX: optionalText.pipe(
    z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'expected letters, digits, _ . - (at most 40)').optional(),
  ).transform((value) => value ?? 'tradedb'),
  TRADEDB_EVENT_RETENTION_HOURS: positiveInteger(72, 'hours'),
  TRADEDB_STREAM_MAXLEN: positiveInteger(100_000, 'entries'),
  TRADEDB_EVENT_MAX_ATTEMPTS: positiveInteger(5, 'attempts'),
  TRADEDB_DATA_DIR: optionalText.transform((value) => value ?? '.tradedb'),
  TRADEDB_EMBEDDED_PORT: port(54329),
  TRADEDB_POOL_MAX: positiveInteger(5, 'connections'),
  TRADEDB_POOL_IDLE_TIMEOUT_MS: positiveInteger(10_000, 'milliseconds'),
  TRADEDB_POOL_CONNECTION_TIMEOUT_MS: positiveInteger(5_000, 'milliseconds'),
  TRADEDB_STATEMENT_TIMEOUT_MS: positiveInteger(30_000, 'milliseconds'),
  ...servicePoolVariables,
  TRADEDB_BACKUP_DIR: optionalText.transform((value) => value ?? 'backups'),
  TRADEDB_BACKUP_KEEP_DAILY: positiveInteger(7, 'days'),
  TRADEDB_BACKUP_KEEP_WEEKLY: positiveInteger(4, 'weeks'),
  TRADEDB_PG_BIN: optionalText,
  TRADEDB_WORKER_CONCURRENCY: positiveInteger(2, 'jobs'),
  TRADEDB_WORKER_STALE_SECONDS: positiveInteger(30, 'seconds'),
  TRADEDB_RETENTION_LOG_DAYS: positiveInteger(30, 'days'),
  TRADEDB_RETENTION_INTRADAY_DAYS: optionalPositiveInteger('days'),
  TRADEDB_LOG_LEVEL: optionalText.pipe(
    z.enum(['debug', 'info', 'warn', 'error'], { message: 'expected debug, info, warn or error' }).optional().transform((value) => value ?? 'info'),
  ),
  TRADEDB_LOG_QUEUE: positiveInteger(10_000, 'lines'),
  TRADEDB_ENCRYPTION_KEY: optionalText.pipe(z.string().min(16, 'expected at least 16 characters (a long random string)').optional()),
  TRADEDB_NEW_ENCRYPTION_KEY: optionalText.pipe(z.string().min(16, 'expected at least 16 characters (a long random string)').optional()),
  TRADEDB_NOTIFY_MAX_ATTEMPTS: positiveInteger(5, 'attempts'),
  TRADEDB_NOTIFY_RETRY_SECONDS: positiveInteger(2, 'seconds'),
  TRADEDB_API_HOST: optionalText.transform((value) => value ?? '127.0.0.1'),
  TRADEDB_API_PORT: port(8080),
  TRADEDB_API_RATE_LIMIT: positiveInteger(600, 'requests a minute'),
  TRADEDB_ACTOR: optionalText.pipe(
    z.string().regex(ACTOR_PATTERN, 'expected 1 to 64 letters, digits or _ . : @ / - (no spaces)').optional(),
  ),
});

export type Env = z.infer<typeof envSchema>;

/** One line per variable for `--help` and the README: name, default, meaning. */
export const ENV_DOCUMENTATION: ReadonlyArray<[name: string, fallback: string, meaning: string]> = [
  ['POSTGRES_HOST', '(unset: embedded server)', 'PostgreSQL server to use; when unset (and no DATABASE_URL) tradedb starts its own'],
  ['POSTGRES_PORT', '5432', 'port of POSTGRES_HOST'],
  ['POSTGRES_USER', 'postgres', 'superuser that `tradedb setup` connects as (nothing else uses it)'],
  ['POSTGRES_PASSWORD', '(none)', "that superuser's password"],
  ['POSTGRES_SSLMODE', 'prefer', 'disable | prefer | require | verify-full, for a remote server'],
  ['DATABASE_URL', '(unset)', 'superuser URL, instead of POSTGRES_HOST/PORT/USER/PASSWORD'],
  ['TRADING_DB_NAME', 'trading_system', 'the trading database (eight service schemas)'],
  ['TRADING_DB_USER', 'trading_user', 'role that owns the schemas and tables'],
  ['TRADING_DB_PASSWORD', '(none)', "that role's password (setup sets it)"],
  ['SERVICE_DB_PASSWORD', '(none)', 'password of every service role unless <SERVICE>_DB_PASSWORD is set'],
  ['<SERVICE>_DB_PASSWORD', 'SERVICE_DB_PASSWORD', 'one service role, e.g. EXECUTION_DB_PASSWORD for execution_user'],
  ['READONLY_DB_PASSWORD', 'SERVICE_DB_PASSWORD', 'password of trading_readonly'],
  ['ORCHESTRATION_DB_NAME', 'orchestration', 'database of scheduled flows (replaces the seed\'s "prefect")'],
  ['ORCHESTRATION_DB_USER', 'orchestration_user', 'role that owns the orchestration database'],
  ['ORCHESTRATION_DB_PASSWORD', '(none)', "that role's password (setup sets it)"],
  ['ORCHESTRATION_DATABASE_URL', '(unset)', 'orchestration connection URL; overrides the four above'],
  ['REDIS_HOST', '(unset: no Redis)', 'Redis for cache and events; without it tradedb uses PostgreSQL alone'],
  ['REDIS_PORT', '6379', 'port of REDIS_HOST'],
  ['REDIS_URL', '(unset)', 'Redis URL, instead of REDIS_HOST/PORT'],
  ['TRADEDB_REDIS_PREFIX', 'tradedb', 'prefix of every Redis key and channel (several installations may share one Redis)'],
  ['TRADEDB_EVENT_RETENTION_HOURS', '72', 'published outbox rows (and consumers\' processed-event marks, twice as long) are kept this long'],
  ['TRADEDB_STREAM_MAXLEN', '100000', 'each Redis stream is trimmed to about this many entries'],
  ['TRADEDB_EVENT_MAX_ATTEMPTS', '5', 'a handler failing this often on one event sends it to the dead-letter stream'],
  ['TRADEDB_DATA_DIR', '.tradedb', "embedded server's data and generated passwords"],
  ['TRADEDB_EMBEDDED_PORT', '54329', "embedded server's port (never 5432, to leave a system server alone)"],
  ['TRADEDB_POOL_MAX', '5', 'connections per service pool'],
  ['TRADEDB_POOL_MAX_<SERVICE>', 'TRADEDB_POOL_MAX', 'one pool, e.g. TRADEDB_POOL_MAX_EXECUTION or _ORCHESTRATION'],
  ['TRADEDB_POOL_IDLE_TIMEOUT_MS', '10000', 'close a pooled connection idle this long'],
  ['TRADEDB_POOL_CONNECTION_TIMEOUT_MS', '5000', 'fail when no connection is free this long'],
  ['TRADEDB_STATEMENT_TIMEOUT_MS', '30000', 'server cancels statements running longer (streaming `tradedb bars` out is exempt)'],
  ['TRADEDB_BACKUP_DIR', 'backups', 'where `tradedb backup` writes dump files and their manifests'],
  ['TRADEDB_BACKUP_KEEP_DAILY', '7', 'retention: keep the newest backup of each of this many most recent days'],
  ['TRADEDB_BACKUP_KEEP_WEEKLY', '4', 'retention: and the newest of each of this many most recent ISO weeks'],
  ['TRADEDB_PG_BIN', '(PATH)', 'directory of pg_dump and pg_restore, if not on PATH'],
  ['TRADEDB_WORKER_CONCURRENCY', '2', 'flow jobs one worker process runs at once'],
  ['TRADEDB_WORKER_STALE_SECONDS', '30', 'a worker silent this long is taken for dead: its jobs go to the others'],
  ['TRADEDB_RETENTION_LOG_DAYS', '30', 'maintenance drops a log partition (one per day) once its day ended this many days ago'],
  ['TRADEDB_RETENTION_INTRADAY_DAYS', '(unset: keep)', 'maintenance deletes intraday bars (1m-1h) older than this; daily bars are never deleted'],
  ['TRADEDB_LOG_LEVEL', 'info', 'debug | info | warn | error: lowest level a service process (start, relay, worker) logs, to stdout and to logging.system_logs'],
  ['TRADEDB_LOG_QUEUE', '10000', 'log lines waiting for the database at most; beyond it lines are dropped (and counted), never waited for'],
  ['TRADEDB_ENCRYPTION_KEY', '(unset)', 'key that encrypts notification targets (webhook URLs, SMTP passwords) with pgcrypto; needed to add and to send them; never logged'],
  ['TRADEDB_NEW_ENCRYPTION_KEY', '(unset)', 'only for `tradedb secrets rotate-key`: the key every secret is re-encrypted under (then make it TRADEDB_ENCRYPTION_KEY)'],
  ['TRADEDB_NOTIFY_MAX_ATTEMPTS', '5', 'delivery attempts of one notification before it is given up'],
  ['TRADEDB_NOTIFY_RETRY_SECONDS', '2', 'wait before the second attempt, doubling for each next one (at most 5 minutes)'],
  ['TRADEDB_API_HOST', '127.0.0.1', 'address the HTTP API (`npm start`, `tradedb api`) listens on; keep it on loopback unless a proxy with TLS is in front'],
  ['TRADEDB_API_PORT', '8080', 'port of the HTTP API'],
  ['TRADEDB_API_RATE_LIMIT', '600', 'requests a minute one API token (or, without one, one address) may make'],
  ['TRADEDB_ACTOR', '(OS user name)', 'who the audit trail records as acting (shared.audit_log.actor) for this process\'s changes'],
  ['ALPACA_API_KEY_ID', '(unset)', 'key id for `tradedb ingest alpaca`'],
  ['ALPACA_API_SECRET_KEY', '(unset)', 'its secret (never logged)'],
];
