import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { ApiTokenService, authenticateApiToken } from '../../../src/services/shared/api-token-service.ts';
import { runCli } from '../../support/run-cli.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';

let trading: TradingDatabase;
let owner: pg.Pool;
beforeAll(async () => {
  trading = await openTradingDatabase('tokens', { accounts: [], symbols: [] });
  owner = trading.owner;
});
afterAll(async () => {
  await trading?.close();
});

it('`tradedb tokens create` prints a token once; only its hash is stored (the audit trail redacts even that); it authenticates until revoked', async () => {
  const created = await runCli(['tokens', 'create', 'dashboard', '--scope', 'read'], trading.db.env);
  expect(created.code, created.stderr).toBe(0);
  const token = created.stdout.trim();
  expect(token).toMatch(/^tdb_[A-Za-z0-9_-]{43}$/);
  expect(created.stderr).toContain('token dashboard (read) created, active. Keep it now: it cannot be shown again.');

  const tokens = new ApiTokenService(owner);
  // As the API checks them: through the logging service's role, which cannot read the table.
  const authenticate = (presented: string) => authenticateApiToken(trading.pools.services.logging, presented);
  expect(await authenticate(token)).toMatchObject({ name: 'dashboard', scope: 'read', revokedAt: null });
  expect(await authenticate(`${token.slice(0, -1)}x`)).toBeUndefined();
  expect(await authenticate('not-a-token')).toBeUndefined();

  // Nowhere in the database in the clear, nor in what `list` and the audit trail show.
  const everything = await trading.admin.query(
    "SELECT (SELECT string_agg(to_jsonb(t)::text, '') FROM shared.api_tokens t) || (SELECT string_agg(to_jsonb(a)::text, '') FROM shared.audit_log a) AS text",
  );
  expect(everything.rows[0].text).not.toContain(token.slice(4));
  const audited = await trading.admin.query("SELECT operation, new_values->>'token_hash' AS hash, new_values->>'scope' AS scope FROM shared.audit_log WHERE table_name = 'api_tokens'");
  expect(audited.rows).toEqual([{ operation: 'INSERT', hash: '[redacted]', scope: 'read' }]);
  const listed = await runCli(['tokens', 'list'], trading.db.env);
  // Its use above was noted (once a minute at most); that alone is no change for the audit trail.
  expect(listed.stdout).toMatch(/^dashboard\s+read\s+active\s+\S+\s+\d{4}-\d{2}-\d{2}T/m);
  expect(listed.stdout).not.toContain(token.slice(4));

  const revoked = await runCli(['tokens', 'revoke', 'dashboard'], trading.db.env);
  expect(revoked.stdout).toMatch(/^token dashboard revoked \d{4}-/);
  expect(await authenticate(token)).toBeUndefined();
});

it('a token past its expiry no longer authenticates; bad names, scopes and duplicates are named and store nothing', async () => {
  const tokens = new ApiTokenService(owner);
  const authenticate = (presented: string) => authenticateApiToken(trading.pools.services.logging, presented);
  const { token } = await tokens.create({ name: 'short-lived', scope: 'trade', expiresInDays: 1 });
  expect(await authenticate(token)).toMatchObject({ scope: 'trade' });
  await trading.admin.query("UPDATE shared.api_tokens SET created_at = now() - interval '3 days', expires_at = now() - interval '1 day' WHERE name = 'short-lived'");
  expect(await authenticate(token)).toBeUndefined();

  const before = await trading.admin.query('SELECT count(*)::int AS n FROM shared.api_tokens');
  await expect(tokens.create({ name: 'bad name!', scope: 'read' })).rejects.toThrow('Invalid token: name: letters, digits and _ . - only');
  await expect(tokens.create({ name: 'x', scope: 'root' })).rejects.toThrow('Invalid token: scope: must be read, trade or admin');
  await expect(tokens.create({ name: 'short-lived', scope: 'read' })).rejects.toThrow('A token named short-lived already exists');
  const badScope = await runCli(['tokens', 'create', 'y', '--scope', 'root'], trading.db.env);
  expect(badScope.code).toBe(1);
  expect(badScope.stderr).toMatch(/option '--scope <scope>' argument 'root' is invalid. Allowed choices are read, trade, admin/);
  expect((await trading.admin.query('SELECT count(*)::int AS n FROM shared.api_tokens')).rows[0].n).toBe(before.rows[0].n);
  await expect(tokens.revoke('nobody')).rejects.toThrow('No token named nobody.');
});
