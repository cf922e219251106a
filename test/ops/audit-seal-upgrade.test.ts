import { cpSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type pg from 'pg';
import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { createOwnerPool } from '../../src/db/owner-pool.ts';
import { connectAdmin, runSetup, SQL_DIR } from '../../src/db/setup.ts';
import { auditHistory, sealAuditLog, verifyAuditTrail } from '../../src/ops/audit-trail.ts';
import { configFromEnv, dropDatabases, freshDatabaseEnv } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

const BLOCKS_MIGRATION = '0019_audit_seals_in_blocks.sql';
const sqlDir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-sql-'));
const config: DatabaseConfig = configFromEnv(freshDatabaseEnv('auditupgrade'));
let owner: pg.Pool | undefined;
let admin: pg.Client | undefined;

afterAll(async () => {
  await owner?.end();
  await admin?.end();
  await dropDatabases(config);
  rmSync(sqlDir, { recursive: true, force: true });
});

/** Symbols added in one transaction each: one audit row apiece in the symbols chain. */
async function addSymbols(...symbols: string[]): Promise<void> {
  for (const symbol of symbols) await admin!.query('INSERT INTO data_ingestion.symbols (symbol) VALUES ($1)', [symbol]);
}

/** Waits until every transaction so far has ended server-wide: their rows can be sealed. */
async function waitForHorizon(): Promise<void> {
  const { rows } = await admin!.query('SELECT txid_current()::text AS txid');
  await waitFor(async () => (await admin!.query('SELECT txid_snapshot_xmin(txid_current_snapshot()) > $1::bigint AS past', [rows[0].txid])).rows[0].past);
}

it('a trail sealed row by row before migration 0019 goes on in blocks after it: one chain per table, verified whole, tampering in either part named', async () => {
  // The database as it was before 0019: the same scripts without it and anything after it.
  cpSync(SQL_DIR, sqlDir, { recursive: true });
  const held = mkdtempSync(path.join(os.tmpdir(), 'tradedb-held-'));
  const later = readdirSync(path.join(sqlDir, 'migrations')).filter((name) => name.endsWith('.sql') && name >= BLOCKS_MIGRATION);
  for (const name of later) renameSync(path.join(sqlDir, 'migrations', name), path.join(held, name));
  await runSetup(config, { sqlDir });
  admin = await connectAdmin(config, config.trading.database);
  owner = createOwnerPool(config);

  await addSymbols('UPG1', 'UPG2', 'UPG3');
  await waitForHorizon();
  expect((await owner.query('SELECT shared.seal_audit_log(5000) AS n')).rows[0].n).toBeGreaterThanOrEqual(3);
  // Committed but not sealed when 0019 comes: its first step seals them the old way.
  await addSymbols('UPG4', 'UPG5');
  await waitForHorizon();

  for (const name of later) renameSync(path.join(held, name), path.join(sqlDir, 'migrations', name));
  rmSync(held, { recursive: true });
  expect((await runSetup(config, { sqlDir })).applied).toContain(`migrations/${BLOCKS_MIGRATION}`);
  const perRow = (await admin.query("SELECT count(*)::int AS n FROM shared.audit_seals WHERE table_name = 'symbols'")).rows[0].n;
  expect(perRow).toBe((await admin.query("SELECT count(*)::int AS n FROM shared.audit_log WHERE table_name = 'symbols'")).rows[0].n);

  await addSymbols('UPG6', 'UPG7');
  await waitForHorizon();
  await sealAuditLog(owner);
  const verified = await verifyAuditTrail(owner, { seal: false });
  expect(verified.problems).toEqual([]);
  expect(verified.unsealed).toBe(0);
  expect(verified.chains.find((chain) => chain.table === 'data_ingestion.symbols')).toMatchObject({ rows: perRow + 2, lastSeq: perRow + 2 });
  const blocks = await admin.query("SELECT first_seq::int AS first, cardinality(audit_ids) AS size FROM shared.audit_seal_blocks WHERE table_name = 'symbols'");
  expect(blocks.rows).toEqual([{ first: perRow + 1, size: 2 }]);
  // `tradedb audit show` finds a row's place in either part.
  expect((await auditHistory(owner, 'symbols', 'UPG1')).entries.map((entry) => entry.chainSeq)).toEqual([perRow - 4]);
  expect((await auditHistory(owner, 'symbols', 'UPG7')).entries.map((entry) => entry.chainSeq)).toEqual([perRow + 2]);

  // A row changed in each part, as a superuser with the triggers off.
  await admin.query('SET session_replication_role = replica');
  await admin.query("UPDATE shared.audit_log SET actor = 'forged' WHERE table_name = 'symbols' AND row_key->>'symbol' IN ('UPG2', 'UPG6')");
  await admin.query('RESET session_replication_role');
  const broken = await verifyAuditTrail(owner, { seal: false });
  expect(broken.problems.map((problem) => `${problem.table} #${problem.chainSeq}: ${problem.problem}`)).toEqual([
    `data_ingestion.symbols #${perRow - 3}: content changed: the row no longer matches its seal`,
    `data_ingestion.symbols #${perRow + 1}: content changed: the row no longer matches its seal`,
  ]);
}, 120_000);
