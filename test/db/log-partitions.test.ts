import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPsqlScript } from '../../src/db/psql-runner.ts';
import { connectAdmin, scriptVariables, SQL_DIR } from '../../src/db/setup.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

let db: TestDatabases;
let admin: pg.Client;

const partitionsOf = async (table: string) =>
  (await admin.query<{ name: string }>('SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1', [table])).rows.map((row) => row.name);

beforeAll(async () => {
  db = await cloneTemplateDatabases('log_partitions');
  admin = await connectAdmin(db.config, db.config.trading.database);
});

afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

describe('log tables partitioned by day (migration 0006)', () => {
  it('converts a database whose log tables still have monthly partitions: every row kept, in its day', async () => {
    // The state before 0006: this month's and next month's log partitions monthly, with rows.
    await admin.query(`
      DO $$ DECLARE p regclass; BEGIN
        FOR p IN SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = 'logging.system_logs'::regclass AND c.relname ~ '_p[0-9]{8}$' LOOP
          EXECUTE format('DROP TABLE %s', p);
        END LOOP;
      END $$;
      SELECT shared.create_monthly_partitions('logging.system_logs', date_trunc('month', (now() AT TIME ZONE 'UTC')::date - 1)::date, 2);
      INSERT INTO logging.system_logs (logged_at, service, level, message, correlation_id)
      SELECT now() - make_interval(hours => n), 'test', 'info', 'line ' || n, 'c' || n FROM generate_series(0, 23) AS n;`);
    const before = (await admin.query('SELECT id, logged_at, message, correlation_id FROM logging.system_logs ORDER BY id')).rows;

    await runPsqlScript(admin, path.join(SQL_DIR, 'migrations/0006_daily_log_partitions.sql'), { variables: scriptVariables(db.config) });

    const partitions = await partitionsOf('logging.system_logs');
    expect(partitions.filter((name) => /_p\d{6}$/.test(name))).toEqual([]);
    const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    expect(partitions).toContain(`system_logs_p${today}`);
    expect((await admin.query('SELECT id, logged_at, message, correlation_id FROM logging.system_logs ORDER BY id')).rows).toEqual(before);
    const misplaced = await admin.query(
      `SELECT count(*)::int AS n FROM logging.system_logs l JOIN pg_class c ON c.oid = l.tableoid
        WHERE c.relname <> 'system_logs_p' || to_char(l.logged_at AT TIME ZONE 'UTC', 'YYYYMMDD')`,
    );
    expect(misplaced.rows[0].n).toBe(0);
    // New rows keep their identity numbering after the conversion.
    const next = await admin.query<{ id: string }>("INSERT INTO logging.system_logs (service, level, message) VALUES ('test', 'info', 'after') RETURNING id");
    expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(before.at(-1)!.id));
  });

  it('rejects a table that is not partitioned by a timestamptz range, by name', async () => {
    await expect(admin.query("SELECT shared.create_daily_partitions('shared.system_config', current_date, 1)")).rejects.toThrow(
      /shared\.system_config is not a table partitioned by range on one timestamptz column/,
    );
  });
});
