import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { connectAdmin } from '../../src/db/setup.ts';
import { runCli } from '../support/run-cli.ts';
import { INJECTION_PAYLOAD, tableRowCounts } from '../support/injection-check.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

const PAYLOAD = INJECTION_PAYLOAD;

/** Every CLI argument that reaches SQL, given the payload. */
const INVOCATIONS: string[][] = [
  ['symbols', 'show', PAYLOAD],
  ['symbols', 'add', PAYLOAD],
  ['bars', PAYLOAD, '--interval', '1d'],
  ['bars', '--latest', `INJ1,${PAYLOAD}`],
  ['orders', 'list', '--account', PAYLOAD],
  ['orders', 'place', '--account', 'inj-a', '--symbol', PAYLOAD, '--side', 'buy', '--quantity', '1'],
  ['orders', 'place', '--account', PAYLOAD, '--symbol', 'INJ1', '--side', 'buy', '--quantity', '1', '--client-order-id', PAYLOAD],
  ['orders', 'cancel', PAYLOAD, '--account', 'inj-a'],
  ['positions', '--account', PAYLOAD],
  ['risk', 'events', '--account', PAYLOAD],
  ['analytics', 'summary', '--account', PAYLOAD],
  ['signals', '--strategy', PAYLOAD],
  ['strategies', 'add', PAYLOAD, '--kind', 'manual'],
  ['quality', '--run', PAYLOAD],
  ['flows', 'show', PAYLOAD],
  ['flows', 'runs', '--name', PAYLOAD],
  ['logs', '--correlation', PAYLOAD, '--service', PAYLOAD],
  ['notifications', 'log', '--config', PAYLOAD],
  ['notifications', 'enable', PAYLOAD],
  ['backup', '--schemas', PAYLOAD],
  ['ingest', 'synthetic', '--symbols', '1', '--bars', '1', '--source', PAYLOAD],
  ['lineage', 'holder', 'INJ1', '--report-date', '2025-01-01', '--holder', PAYLOAD],
  ['lineage', 'company', PAYLOAD],
  ['lineage', 'bar', PAYLOAD, '--at', '2025-01-01', '--source', PAYLOAD],
  ['tokens', 'revoke', PAYLOAD],
  ['tokens', 'create', PAYLOAD, '--scope', 'read'],
  ['audit', 'show', '--table', PAYLOAD, '--key', '1'],
  ['audit', 'show', '--table', 'symbols', '--key', PAYLOAD],
  ['audit', 'show', '--table', 'orders', '--key', `account_id=${PAYLOAD},id=1`],
];

let db: TestDatabases;
let admin: pg.Client;

beforeAll(async () => {
  db = await cloneTemplateDatabases('injection');
  admin = await connectAdmin(db.config, db.config.trading.database);
  await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) VALUES ('inj-a', 'Injection target', 1000)");
  await admin.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('INJ1')");
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

it('no CLI argument that reaches SQL can change the database: each is refused or treated as data, never as SQL', async () => {
  const before = await tableRowCounts(admin);
  const results: Array<{ args: string[]; code: number | null; stderr: string }> = [];
  // Four at a time: each is a process of its own.
  for (let index = 0; index < INVOCATIONS.length; index += 4) {
    const batch = INVOCATIONS.slice(index, index + 4);
    results.push(...(await Promise.all(batch.map(async (args) => ({ args, ...(await runCli(args, db.env)) })))));
  }
  for (const { args, code, stderr } of results) {
    const label = args.slice(0, 2).join(' ');
    // A syntax error would mean the argument was spliced into SQL text.
    expect(stderr, label).not.toMatch(/syntax error|42601|unterminated|cannot execute DROP/i);
    expect(stderr, label).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect([0, 1, 2], `${label}: ${stderr}`).toContain(code);
  }
  // Several ran their queries with the payload as a value (and found nothing): the check reached SQL.
  expect(results.filter((result) => result.code === 0).length).toBeGreaterThanOrEqual(6);
  // Everything still there; the only rows added are ones whose content is the payload as data
  // (a strategy named by it, and the audit trail's record of that).
  const after = await tableRowCounts(admin);
  expect(Object.keys(after)).toEqual(Object.keys(before));
  const changed = Object.fromEntries(Object.entries(after).filter(([name, count]) => count !== before[name]));
  for (const name of Object.keys(changed)) expect(name === 'strategy_engine.strategies' || name.startsWith('shared.audit_log'), `${name} changed`).toBe(true);
  const audited = await admin.query("SELECT table_name, operation, new_values->>'name' AS name FROM shared.audit_log WHERE table_name <> 'symbols' AND table_name <> 'accounts'");
  expect(audited.rows).toEqual(changed['strategy_engine.strategies'] ? [{ table_name: 'strategies', operation: 'INSERT', name: PAYLOAD }] : []);
  const stored = await admin.query('SELECT name FROM strategy_engine.strategies');
  expect(stored.rows.map((row) => row.name)).toEqual(changed['strategy_engine.strategies'] ? [PAYLOAD] : []);
  expect((await admin.query("SELECT account_id FROM shared.accounts")).rows).toEqual([{ account_id: 'inj-a' }]);
}, 180_000);
