import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { loadConfig } from '../../src/config/load-config.ts';
import { sealAuditLog } from '../../src/ops/audit-trail.ts';
import { connectionFindings, runDoctor } from '../../src/ops/doctor.ts';
import { NotificationConfigService } from '../../src/services/notification/notification-config-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';
import { waitFor } from '../support/wait-for.ts';

const KEY = 'doctor-key-0123456789';
let trading: TradingDatabase;
let owner: pg.Pool;

beforeAll(async () => {
  trading = await openTradingDatabase('doctor', { accounts: [], symbols: [] });
  owner = trading.owner;
});
afterAll(async () => {
  await trading?.close();
});

const settings = (env: Record<string, string> = {}) => loadConfig({ env: { ...trading.db.env, ...env }, envFile: false });

it('a freshly set-up database is healthy; row-level security switched off on an account table, and a secret the key cannot open, are named', async () => {
  expect(await runDoctor(settings({ TRADEDB_ENCRYPTION_KEY: KEY }), trading.pools, owner)).toEqual([]);

  await trading.admin.query('ALTER TABLE execution.trades DISABLE ROW LEVEL SECURITY');
  await new NotificationConfigService(trading.pools.services.notification, 'some-other-key-0123').add({ name: 'old-hook', channel: 'webhook', target: { url: 'https://hooks.example.com/x' } });
  try {
    const findings = await runDoctor(settings({ TRADEDB_ENCRYPTION_KEY: KEY }), trading.pools, owner);
    expect(findings).toEqual([
      { severity: 'error', check: 'row-level security', detail: 'execution.trades holds account rows (account_id NOT NULL) but has no row-level security policy in force' },
      { severity: 'error', check: 'secrets', detail: 'notification.notification_configs "old-hook" does not decrypt with TRADEDB_ENCRYPTION_KEY' },
    ]);
    expect(await runDoctor(settings(), trading.pools, owner)).toContainEqual({ severity: 'warning', check: 'secrets', detail: 'encrypted secrets are stored but TRADEDB_ENCRYPTION_KEY is not set: they cannot be used' });
  } finally {
    await trading.admin.query('ALTER TABLE execution.trades ENABLE ROW LEVEL SECURITY');
  }
});

const auditFindings = async () => (await runDoctor(settings({ TRADEDB_ENCRYPTION_KEY: KEY }), trading.pools, owner)).filter((finding) => finding.check === 'audit trail');

it('an audited table whose audit trigger is disabled is an error; audit rows long unsealed are a warning until sealed', async () => {
  await trading.admin.query('ALTER TABLE execution.positions DISABLE TRIGGER audit_changes');
  await trading.admin.query("INSERT INTO shared.audit_log (occurred_at, table_schema, table_name, row_key, operation, new_values) VALUES (now() - interval '10 minutes', 'shared', 'accounts', '{}', 'INSERT', '{}')");
  try {
    expect(await auditFindings()).toEqual([
      { severity: 'error', check: 'audit trail', detail: "execution.positions has no enabled audit_changes trigger: its changes are not recorded (SELECT shared.audit_table('execution.positions') as the owner)" },
      { severity: 'warning', check: 'audit trail', detail: '1 audit row(s) older than 5 minutes are not sealed: no sealer is running (npm start runs one; or run tradedb audit seal), or a transaction has been open that long' },
    ]);
  } finally {
    await trading.admin.query('ALTER TABLE execution.positions ENABLE TRIGGER audit_changes');
  }
  // Sealing waits for every older transaction on the server (other test files' too) to end.
  await waitFor(async () => (await sealAuditLog(owner), (await auditFindings()).length === 0), { timeoutMs: 30_000 });
  expect(await auditFindings()).toEqual([]);
});

it('on a remote server: no TLS, and missing, short, default or name-like passwords are errors; a local server needs none of it', () => {
  const remote = loadConfig({
    env: { POSTGRES_HOST: 'db.example.com', POSTGRES_SSLMODE: 'prefer', SERVICE_DB_PASSWORD: 'a-long-enough-password', TRADING_DB_PASSWORD: 'postgres', EXECUTION_DB_PASSWORD: 'short', ANALYTICS_DB_PASSWORD: 'Analytics_User' },
    envFile: false,
  });
  const details = connectionFindings(remote).map((finding) => `${finding.severity} ${finding.check}: ${finding.detail}`);
  expect(details).toEqual([
    'warning TLS: POSTGRES_SSLMODE=prefer to db.example.com: passwords and data may cross the network in the clear; use require or verify-full',
    'error passwords: trading_user has a default or guessable password on the remote server db.example.com',
    'error passwords: execution_user has a password shorter than 12 characters on the remote server db.example.com',
    'error passwords: analytics_user has a default or guessable password on the remote server db.example.com',
    'error passwords: orchestration_user has no password on the remote server db.example.com',
  ]);
  expect(connectionFindings(loadConfig({ env: { POSTGRES_HOST: '127.0.0.1' }, envFile: false }))).toEqual([]);
});
