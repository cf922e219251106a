import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from '../../src/config/database-config.ts';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';

const load = (env: Record<string, string>) => loadConfig({ env, envFile: false, cwd: '/srv/app' });

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to the embedded server, the seed names and no Redis', () => {
    const config = load({});
    expect(config.database.server).toMatchObject({ mode: 'embedded', host: '127.0.0.1', port: 54329 });
    expect(config.database.embedded.dataDir).toBe('/srv/app/.tradedb');
    expect(config.database.trading).toMatchObject({ database: 'trading_system', owner: { user: 'trading_user' } });
    expect(config.database.orchestration).toMatchObject({ database: 'orchestration', user: 'orchestration_user' });
    expect(config.database.services.execution).toMatchObject({ user: 'execution_user', schema: 'execution', pool: { max: 5 } });
    expect(config.redis.url).toBeUndefined();
  });

  it('uses POSTGRES_HOST as an external server and never the embedded port', () => {
    const config = load({ POSTGRES_HOST: 'db.internal', POSTGRES_PORT: '6543', POSTGRES_USER: 'admin', POSTGRES_PASSWORD: 's3cret' });
    expect(config.database.server).toMatchObject({ mode: 'external', host: 'db.internal', port: 6543, admin: { user: 'admin', password: 's3cret' } });
  });

  it('reads a DATABASE_URL as the superuser connection', () => {
    const config = load({ DATABASE_URL: 'postgres://root%40x:p%40ss@db:5433/maint' });
    expect(config.database.server).toMatchObject({ mode: 'external', host: 'db', port: 5433, admin: { user: 'root@x', password: 'p@ss' }, maintenanceDatabase: 'maint' });
  });

  it('lets ORCHESTRATION_DATABASE_URL name the orchestration database and role', () => {
    const config = load({ ORCHESTRATION_DATABASE_URL: 'postgresql://flows:pw@127.0.0.1:5432/flowdb' });
    expect(config.database.orchestration).toMatchObject({ database: 'flowdb', user: 'flows', password: 'pw' });
  });

  it('gives each service its password, falling back to SERVICE_DB_PASSWORD, and its own pool size', () => {
    const config = load({ SERVICE_DB_PASSWORD: 'shared-pw', EXECUTION_DB_PASSWORD: 'exec-pw', TRADEDB_POOL_MAX: '3', TRADEDB_POOL_MAX_EXECUTION: '12' });
    expect(config.database.services.execution).toMatchObject({ password: 'exec-pw', pool: { max: 12 } });
    expect(config.database.services.analytics).toMatchObject({ password: 'shared-pw', pool: { max: 3 } });
    expect(config.database.readonly.password).toBe('shared-pw');
  });

  it('builds the Redis URL from REDIS_HOST and REDIS_PORT, REDIS_URL winning', () => {
    expect(load({ REDIS_HOST: '127.0.0.1' }).redis.url).toBe('redis://127.0.0.1:6379');
    expect(load({ REDIS_HOST: 'x', REDIS_URL: 'redis://cache:6380/2' }).redis.url).toBe('redis://cache:6380/2');
  });

  it('names every bad variable, its value and what it expects, all at once', () => {
    const problems = problemsOf({ POSTGRES_PORT: 'abc', TRADING_DB_NAME: 'Trading-DB', REDIS_URL: 'http://x', TRADEDB_POOL_MAX: '0', POSTGRES_SSLMODE: 'always' });
    expect(problems).toHaveLength(5);
    expect(problems.find((line) => line.startsWith('POSTGRES_PORT="abc"'))).toMatch(/port number between 1 and 65535/);
    expect(problems.find((line) => line.startsWith('TRADING_DB_NAME="Trading-DB"'))).toMatch(/lower-case PostgreSQL name/);
    expect(problems.find((line) => line.startsWith('REDIS_URL="http://x"'))).toMatch(/redis:\/\//);
    expect(problems.find((line) => line.startsWith('TRADEDB_POOL_MAX="0"'))).toMatch(/above 0/);
    expect(problems.find((line) => line.startsWith('POSTGRES_SSLMODE="always"'))).toMatch(/disable|require/);
  });

  it('rejects a port out of range and a malformed database URL', () => {
    expect(problemsOf({ POSTGRES_PORT: '70000' })[0]).toMatch(/^POSTGRES_PORT="70000": expected a port number/);
    expect(problemsOf({ DATABASE_URL: 'mysql://x' })[0]).toMatch(/^DATABASE_URL="mysql:\/\/x": expected a URL like postgres:\/\//);
  });

  it('reads .env, and the real environment overrides it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-env-'));
    writeFileSync(path.join(dir, '.env'), 'TRADING_DB_NAME=from_file\nPOSTGRES_HOST=file-host\n# a comment\nREDIS_HOST=\n');
    const config = loadConfig({ env: { POSTGRES_HOST: 'env-host' }, cwd: dir });
    expect(config.database.trading.database).toBe('from_file');
    expect(config.database.server.host).toBe('env-host');
    expect(config.redis.url).toBeUndefined();
    expect(config.sources.envFile).toBe(path.join(dir, '.env'));
  });

  it('exports the seed SCHEMAS map with all eight schemas', () => {
    expect(Object.keys(SCHEMAS).sort()).toEqual(['analytics', 'data_ingestion', 'execution', 'logging', 'notification', 'risk_management', 'shared', 'strategy_engine']);
  });
});
