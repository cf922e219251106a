import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMAS, SERVICE_NAMES, type ServiceName } from '../../src/config/database-config.ts';
import { connectionOptions } from '../../src/db/connection-options.ts';
import { InsufficientPrivilegeError } from '../../src/db/errors.ts';
import { createPools, type Pools } from '../../src/db/pools.ts';
import { withTransaction } from '../../src/db/transaction.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';
import { collectRoleMatrix, formatRoleMatrix, roleMatrixViolations } from '../../src/ops/role-matrix.ts';
import { connectAdmin } from '../../src/db/setup.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let db: TestDatabases;
let pools: Pools;
/** One table of each schema, to try writes against. */
const targetTable: Record<string, string> = {
  data_ingestion: 'data_ingestion.symbols',
  strategy_engine: 'strategy_engine.strategies',
  execution: 'execution.orders',
  risk_management: 'risk_management.risk_limits',
  analytics: 'analytics.portfolio_summary',
  notification: 'notification.notification_configs',
  logging: 'logging.system_logs',
  shared: 'shared.system_config',
};

beforeAll(async () => {
  db = await cloneTemplateDatabases('roles');
  pools = createPools(db.config);
});
afterAll(async () => {
  await pools?.close();
  await db?.drop();
});

describe('per-service pools', () => {
  it.each(SERVICE_NAMES)('%s connects as its own role, with its schema first on the search_path and its application_name', async (service) => {
    const { rows } = await pools.services[service].query<{ role: string; path: string; app: string; superuser: boolean }>(
      `SELECT current_user AS role, current_setting('search_path') AS path, current_setting('application_name') AS app,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    expect(rows[0]).toEqual({ role: `${service}_user`, path: `${SCHEMAS[service]},shared`, app: `tradedb:${service}`, superuser: false });
  });

  it('the orchestration pool reaches the orchestration database as its owner, not a superuser', async () => {
    const { rows } = await pools.orchestration.query<{ db: string; role: string; superuser: boolean }>(
      'SELECT current_database() AS db, current_user AS role, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser',
    );
    expect(rows[0]).toEqual({ db: db.config.orchestration.database, role: 'orchestration_user', superuser: false });
  });

  it('reports total/idle/waiting per pool', async () => {
    await pools.services.execution.query('SELECT 1');
    const stats = pools.stats();
    expect(Object.keys(stats).sort()).toEqual([...SERVICE_NAMES, 'orchestration'].sort());
    expect(stats.execution).toMatchObject({ total: 1, idle: 1, waiting: 0, max: 5 });
  });
});

describe('least privilege', () => {
  const cases = SERVICE_NAMES.flatMap((service) =>
    Object.keys(SCHEMAS)
      .filter((schema) => schema !== service)
      .map((schema) => [service, schema] as [ServiceName, string]),
  );

  it.each(cases)('%s_user cannot write the %s schema (SQLSTATE 42501)', async (service, schema) => {
    const attempt = withTransaction(pools.services[service], (client) => client.query(`DELETE FROM ${targetTable[schema]} WHERE false`));
    const error = await attempt.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InsufficientPrivilegeError);
    expect((error as InsufficientPrivilegeError).sqlstate).toBe('42501');
  });

  it.each(SERVICE_NAMES)('%s_user can write its own schema', async (service) => {
    const result = await pools.services[service].query(`DELETE FROM ${targetTable[service]} WHERE false`);
    expect(result.command).toBe('DELETE');
  });

  it('data_ingestion_user inserts a symbol; strategy_engine_user reads it but cannot change it', async () => {
    await pools.services.data_ingestion.query("INSERT INTO symbols (symbol, name) VALUES ('AAPL', 'Apple Inc.')");
    const { rows } = await pools.services.strategy_engine.query('SELECT name FROM data_ingestion.symbols WHERE symbol = $1', ['AAPL']);
    expect(rows).toEqual([{ name: 'Apple Inc.' }]);
    await expect(pools.services.strategy_engine.query("UPDATE data_ingestion.symbols SET name = 'x'")).rejects.toMatchObject({ code: '42501' });
  });

  it('a service cannot read a schema it has no need of', async () => {
    await expect(pools.services.data_ingestion.query('SELECT count(*) FROM execution.orders')).rejects.toMatchObject({ code: '42501' });
  });

  it('trading_readonly reads every schema and writes none', async () => {
    const reader = new pg.Client(connectionOptions(db.config, db.config.readonly, db.config.trading.database, { applicationName: 'test' }));
    await reader.connect();
    try {
      for (const table of Object.values(targetTable)) {
        await expect(reader.query(`SELECT count(*) FROM ${table}`)).resolves.toMatchObject({ rowCount: 1 });
        await expect(reader.query(`DELETE FROM ${table} WHERE false`)).rejects.toMatchObject({ code: '42501' });
      }
    } finally {
      await reader.end();
    }
  });
});

describe('the role matrix', () => {
  it('docs/security.md shows exactly what a freshly set-up database grants', async () => {
    const matrix = await collectRoleMatrix(pools.services.logging);
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/security.md'), 'utf8');
    const documented = /<!-- role-matrix:begin -->\n([\s\S]*?)\n<!-- role-matrix:end -->/.exec(doc)?.[1];
    expect(documented, 'run `tradedb roles` and paste its table into docs/security.md').toBe(formatRoleMatrix(matrix));
  });

  it('each service writes only its own schema, reads shared, and nobody writes shared; trading_readonly only reads', async () => {
    expect(roleMatrixViolations(await collectRoleMatrix(pools.services.logging))).toEqual([]);
    // The check itself finds a missing grant (a table of this database only: roles are the server's).
    const admin = await connectAdmin(db.config, db.config.trading.database);
    try {
      await admin.query('REVOKE INSERT ON execution.trades FROM execution_user');
      expect(roleMatrixViolations(await collectRoleMatrix(pools.services.logging))).toEqual(['execution_user has INSERT on some table(s) of execution; expected all']);
      await admin.query('GRANT INSERT ON execution.trades TO execution_user');
    } finally {
      await admin.end();
    }
  });
});
