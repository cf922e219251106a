import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { withTransaction } from '../../src/db/transaction.ts';
import { startAuditSealer } from '../../src/ops/audit-sealer.ts';
import { ROW_HISTORY_SQL, sealAuditLog, verifyAuditTrail } from '../../src/ops/audit-trail.ts';
import { executeOrder } from '../../src/services/execution/order-execution.ts';
import { OrderService } from '../../src/services/execution/order-service.ts';
import { setKillSwitch } from '../../src/services/risk-management/kill-switch.ts';
import { RiskLimitService } from '../../src/services/risk-management/risk-limit-service.ts';
import { AccountService } from '../../src/services/shared/account-service.ts';
import { StrategyService } from '../../src/services/strategy-engine/strategy-service.ts';
import { NotificationConfigService } from '../../src/services/notification/notification-config-service.ts';
import { runCli } from '../support/run-cli.ts';
import { waitFor } from '../support/wait-for.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

const SECRET_URL = 'https://hooks.example.com/T0KEN-audit-s3cret';
let trading: TradingDatabase;
let owner: pg.Pool;

beforeAll(async () => {
  trading = await openTradingDatabase('audit', { accounts: ['aud-a', 'aud-b'], symbols: ['AUD1', 'AUD2'] });
  owner = trading.owner;
});
afterAll(async () => {
  await trading?.close();
});

const fill = (id: string, quantity: string, price: string) => ({ brokerFillId: id, quantity, price, fees: '0', executedAt: new Date('2025-06-02T15:00:00Z') });

/** Audit rows of one table, oldest first. */
async function trail(table: string) {
  const { rows } = await trading.admin.query(
    `SELECT operation, row_key, old_values, new_values, db_role, actor, txid::text FROM shared.audit_log WHERE table_schema || '.' || table_name = $1 ORDER BY id`,
    [table],
  );
  return rows;
}

it('every audited table records inserts, the changed columns of updates, and deletes, with the login role, the actor and the transaction', async () => {
  const services = trading.pools.services;
  await new AccountService(owner).add({ accountId: 'aud-c', name: 'Audited', baseCurrency: 'USD', startingCash: '500' });
  await setKillSwitch(owner, true, 'audit test');
  await setKillSwitch(owner, false);
  await services.data_ingestion.query("INSERT INTO data_ingestion.symbols (symbol, name) VALUES ('AUD3', 'Third')");
  // A no-op upsert changes only updated_at: nothing to record.
  await services.data_ingestion.query("UPDATE data_ingestion.symbols SET name = 'Third' WHERE symbol = 'AUD3'");
  const strategy = await new StrategyService(services.strategy_engine).create({ name: 'audited', kind: 'manual' });
  await new StrategyService(services.strategy_engine).update(strategy.id, strategy.version, { status: 'paused' });
  await new RiskLimitService(services.risk_management).setLimit('aud-a', { type: 'max_order_notional', value: '1000000' });
  await new RiskLimitService(services.risk_management).setPositionLimit('aud-a', { symbol: 'AUD1', maxLong: '500' });
  const placed = await new OrderService(trading.pool).place({ accountId: 'aud-a', clientOrderId: 'aud-0', symbol: 'AUD1', side: 'buy', quantity: '5', orderType: 'limit', limitPrice: '20' });
  await new OrderService(trading.pool).cancel('aud-a', placed.order.id);
  await executeOrder(trading.pool, { accountId: 'aud-a', clientOrderId: 'aud-1', symbol: 'AUD1', side: 'buy', quantity: '10', orderType: 'limit', limitPrice: '25' }, fill('aud-f1', '10', '25'));
  // The application names who acts for one transaction (the API will, per token).
  await withTransaction(services.data_ingestion, async (client) => {
    await client.query("SELECT set_config('tradedb.actor', 'api:token-7', true)");
    await client.query("DELETE FROM data_ingestion.symbols WHERE symbol = 'AUD3'");
  });

  const actor = trading.db.config.actor;
  expect((await trail('shared.accounts')).at(-1)).toMatchObject({ operation: 'INSERT', row_key: { account_id: 'aud-c' }, db_role: 'trading_user', actor, old_values: null });
  const config = await trail('shared.system_config');
  expect(config.map((row) => row.operation)).toEqual(['INSERT', 'UPDATE']);
  expect(config[1].old_values).toEqual({ value: { enabled: true, reason: 'audit test' }, version: 1 });
  expect(Object.keys(config[1].new_values).sort()).toEqual(['value', 'version']);

  const symbols = (await trail('data_ingestion.symbols')).filter((row) => row.row_key.symbol === 'AUD3');
  expect(symbols.map((row) => [row.operation, row.db_role, row.actor])).toEqual([
    ['INSERT', 'data_ingestion_user', actor],
    ['DELETE', 'data_ingestion_user', 'api:token-7'],
  ]);
  expect(symbols[1]).toMatchObject({ new_values: null, old_values: { symbol: 'AUD3', name: 'Third' } });

  const strategies = await trail('strategy_engine.strategies');
  expect(strategies.map((row) => row.operation)).toEqual(['INSERT', 'UPDATE']);
  expect(strategies[1]).toMatchObject({ row_key: { id: String(strategy.id) }, old_values: { status: 'draft', version: 1 }, new_values: { status: 'paused', version: 2 } });
  expect((await trail('risk_management.risk_limits'))[0]).toMatchObject({ operation: 'INSERT', db_role: 'risk_management_user', row_key: { account_id: 'aud-a' } });
  expect((await trail('risk_management.position_limits'))[0]).toMatchObject({ operation: 'INSERT', row_key: { account_id: 'aud-a', symbol: 'AUD1' } });

  // An order placed, then cancelled; another placed and filled in one transaction with its position.
  const orders = await trail('execution.orders');
  expect(orders.map((row) => [row.operation, row.row_key.client_order_id ?? row.row_key.id, row.db_role])).toEqual([
    ['INSERT', String(placed.order.id), 'execution_user'],
    ['UPDATE', String(placed.order.id), 'execution_user'],
    ['INSERT', expect.any(String), 'execution_user'],
  ]);
  expect(orders[1].new_values).toMatchObject({ status: 'cancelled', version: placed.order.version + 1 });
  expect(Object.keys(orders[1].old_values).sort()).toEqual(Object.keys(orders[1].new_values).sort());
  expect(orders[2].new_values).toMatchObject({ status: 'filled', filled_quantity: 10, client_order_id: 'aud-1' });
  const positions = await trail('execution.positions');
  expect(positions.map((row) => [row.operation, row.row_key, row.txid])).toEqual([
    // Placing the first order opened the (empty) position its risk check locks.
    ['INSERT', { account_id: 'aud-a', symbol: 'AUD1' }, orders[0].txid],
    ['UPDATE', { account_id: 'aud-a', symbol: 'AUD1' }, orders[2].txid],
  ]);
  expect(positions[1]).toMatchObject({ old_values: { quantity: 0, version: 1 }, new_values: { quantity: 10, average_cost: 25, version: 2 } });
});

it('any table put under audit records its key, whatever the number of key columns, and only the columns an update changed', async () => {
  await trading.admin.query('CREATE TABLE shared.audit_probe (a int, b text, c date, note text, amount numeric, PRIMARY KEY (a, b, c))');
  await trading.admin.query("SELECT shared.audit_table('shared.audit_probe')");
  await trading.admin.query("INSERT INTO shared.audit_probe VALUES (1, 'x', '2025-01-02', 'first', 5.0)");
  await trading.admin.query("UPDATE shared.audit_probe SET note = 'second', amount = 5.0");
  await trading.admin.query("UPDATE shared.audit_probe SET note = NULL, amount = 5.00");
  await trading.admin.query('DELETE FROM shared.audit_probe');
  const rows = await trail('shared.audit_probe');
  expect(rows.map((row) => [row.operation, row.row_key, row.old_values, row.new_values])).toEqual([
    ['INSERT', { a: '1', b: 'x', c: '2025-01-02' }, null, { a: 1, b: 'x', c: '2025-01-02', note: 'first', amount: 5.0 }],
    ['UPDATE', { a: '1', b: 'x', c: '2025-01-02' }, { note: 'first' }, { note: 'second' }],
    // A numeric stored at another scale is another value (5.0 → 5.00).
    ['UPDATE', { a: '1', b: 'x', c: '2025-01-02' }, { note: 'second', amount: 5.0 }, { note: null, amount: 5.0 }],
    ['DELETE', { a: '1', b: 'x', c: '2025-01-02' }, { a: 1, b: 'x', c: '2025-01-02', note: null, amount: 5.0 }, null],
  ]);
});

it('secrets never enter the trail: an encrypted column is recorded as "[redacted]", and no output shows the secret', async () => {
  const configs = new NotificationConfigService(trading.pools.services.notification, 'audit-key-0123456789');
  await configs.add({ name: 'audited-hook', channel: 'webhook', target: { url: SECRET_URL } });
  await configs.setEnabled('audited-hook', false);
  const rows = await trail('notification.notification_configs');
  expect(rows.map((row) => row.operation)).toEqual(['INSERT', 'UPDATE']);
  expect(rows[0].new_values.target_encrypted).toBe('[redacted]');
  const everything = await trading.admin.query('SELECT string_agg(to_jsonb(a)::text, E\'\\n\') AS text FROM shared.audit_log a');
  expect(everything.rows[0].text).not.toContain('T0KEN-audit-s3cret');
  // Not the ciphertext either: it is the secret under a key that may leak one day.
  const cipher = await trading.admin.query("SELECT encode(target_encrypted, 'hex') AS hex FROM notification.notification_configs WHERE name = 'audited-hook'");
  expect(everything.rows[0].text).not.toContain(cipher.rows[0].hex.slice(0, 32));
  const shown = await runCli(['audit', 'show', '--table', 'notification_configs', '--key', String(rows[0].row_key.id), '--json'], trading.db.env);
  expect(shown.code, shown.stderr).toBe(0);
  expect(shown.stdout).toContain('[redacted]');
  expect(shown.stdout + shown.stderr).not.toContain('T0KEN-audit-s3cret');
});

it('UPDATE, DELETE and TRUNCATE of audit_log and its seals are refused for every role: by privilege for the services, by trigger for the owner and a superuser', async () => {
  await sealAuditLog(owner);
  const roles = ['data_ingestion_user', 'strategy_engine_user', 'execution_user', 'risk_management_user', 'analytics_user', 'notification_user', 'logging_user', 'trading_readonly'];
  const statements = ["UPDATE shared.audit_log SET actor = 'forged'", 'DELETE FROM shared.audit_log', 'TRUNCATE shared.audit_log', "INSERT INTO shared.audit_log (table_schema, table_name, row_key, operation) VALUES ('x', 'y', '{}', 'INSERT')"];
  const refusal = async (role: string, statement: string): Promise<string> => {
    const client = await connectAs(role);
    try {
      await client.query(statement);
      return 'allowed';
    } catch (error) {
      return (error as { code?: string }).code ?? 'no code';
    } finally {
      await client.end();
    }
  };
  for (const role of roles) {
    for (const statement of statements) expect(`${role}: ${statement} → ${await refusal(role, statement)}`).toBe(`${role}: ${statement} → 42501`);
    // Nor read it: old and new values are account data that row-level security guards.
    expect(await refusal(role, 'SELECT count(*) FROM shared.audit_log')).toBe('42501');
  }
  for (const statement of statements.slice(0, 3)) {
    expect(`owner: ${await refusal('trading_user', statement)}`).toBe('owner: 23001');
    await expect(trading.admin.query(statement)).rejects.toMatchObject({ code: '23001' });
  }
  // Nor the seals: in blocks since 0019 (a row trigger refuses only where there are rows), and
  // the per-row seals of 0010, which nothing writes any more (empty here: TRUNCATE shows the trigger).
  await sealEverything();
  expect((await trading.admin.query('SELECT count(*)::int AS n FROM shared.audit_seal_blocks')).rows[0].n).toBeGreaterThan(0);
  const sealStatements = (table: string) => [`UPDATE ${table} SET sealed_at = sealed_at`, `DELETE FROM ${table}`, `TRUNCATE ${table}`];
  for (const statement of [...sealStatements('shared.audit_seal_blocks'), 'TRUNCATE shared.audit_seals']) {
    await expect(trading.admin.query(statement)).rejects.toMatchObject({ code: '23001' });
  }
  for (const statement of [...sealStatements('shared.audit_seal_blocks'), ...sealStatements('shared.audit_seals')]) {
    expect(await refusal('execution_user', statement)).toBe('42501');
  }
});

/** A connection as `role` (the test server trusts local connections, as CI's does). */
async function connectAs(role: string): Promise<pg.Client> {
  const { config } = trading.db;
  const credentials = role === config.trading.owner.user ? config.trading.owner : role === config.readonly.user ? config.readonly : Object.values(config.services).find((service) => service.user === role)!;
  const client = new pg.Client({ host: config.server.host, port: config.server.port, database: config.trading.database, user: credentials.user, password: credentials.password });
  await client.connect();
  return client;
}

/** Seals until nothing is left unsealed: the seal waits for every older transaction of the whole server (other test files' too). */
async function sealEverything(): Promise<void> {
  await waitFor(async () => (await sealAuditLog(owner), (await verifyAuditTrail(owner, { seal: false })).unsealed === 0), { timeoutMs: 30_000 });
}

it('a transaction still writing holds back the seal: its rows join the chain after it commits, in a final order', async () => {
  const sealedSymbols = async () =>
    (await trading.admin.query(
      `SELECT a.row_key->>'symbol' AS symbol, s.chain_seq::int FROM shared.audit_log a JOIN shared.audit_chain() s ON s.audit_id = a.id
        WHERE a.table_name = 'symbols' AND a.row_key->>'symbol' IN ('SLOW1', 'FAST1') ORDER BY s.chain_seq`,
    )).rows;
  await sealEverything();
  const slow = await connectAs('data_ingestion_user');
  try {
    await slow.query('BEGIN');
    await slow.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('SLOW1')");
    await trading.pools.services.data_ingestion.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('FAST1')");
    // FAST1 committed, but a transaction older than it may still add rows: neither is sealed.
    await sealAuditLog(owner);
    expect(await sealedSymbols()).toEqual([]);
    await slow.query('COMMIT');
  } finally {
    await slow.end();
  }
  await sealEverything();
  const rows = await sealedSymbols();
  expect(rows.map((row) => row.symbol)).toEqual(['SLOW1', 'FAST1']);
  expect(rows[1].chain_seq).toBe(rows[0].chain_seq + 1);
});

it('a backlog is sealed in parts of whole transactions, each part a block that goes on with the chain', async () => {
  await sealEverything();
  for (const part of ['BKA', 'BKB', 'BKC']) {
    await trading.pools.services.data_ingestion.query(`INSERT INTO data_ingestion.symbols (symbol) VALUES ('${part}1'), ('${part}2'), ('${part}3')`);
  }
  const lastTxid = (await trading.admin.query("SELECT max(txid)::text AS txid FROM shared.audit_log WHERE row_key->>'symbol' LIKE 'BKC%'")).rows[0].txid;
  // Other test files' transactions hold the server's horizon back for a moment.
  await waitFor(async () => (await owner.query('SELECT txid_snapshot_xmin(txid_current_snapshot()) > $1::bigint AS past', [lastTxid])).rows[0].past);
  const seal = async (maxRows: number) => (await owner.query('SELECT shared.seal_audit_log($1) AS n', [maxRows])).rows[0].n;
  // Four rows at most, then the rest of the transaction holding the fifth: A and B, then C.
  expect([await seal(4), await seal(4), await seal(4)]).toEqual([6, 3, 0]);
  const chained = await trading.admin.query(
    `SELECT a.row_key->>'symbol' AS symbol, s.chain_seq::int AS seq FROM shared.audit_log a JOIN shared.audit_chain() s ON s.audit_id = a.id
      WHERE a.row_key->>'symbol' LIKE 'BK%' ORDER BY s.chain_seq`,
  );
  expect(chained.rows.map((row) => row.symbol)).toEqual(['BKA1', 'BKA2', 'BKA3', 'BKB1', 'BKB2', 'BKB3', 'BKC1', 'BKC2', 'BKC3']);
  expect(chained.rows.map((row) => row.seq - chained.rows[0].seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const blocks = await trading.admin.query(
    "SELECT cardinality(audit_ids) AS size FROM shared.audit_seal_blocks WHERE table_name = 'symbols' AND first_seq >= $1 ORDER BY first_seq",
    [chained.rows[0].seq],
  );
  expect(blocks.rows.map((row) => row.size)).toEqual([6, 3]);
  expect((await verifyAuditTrail(owner, { seal: false })).problems).toEqual([]);
});

it('concurrent writers with the sealer running: every row sealed once, every chain intact; then a changed row, a deleted row, a gap and a row added by hand are each named', async () => {
  const sealer = startAuditSealer(trading.db.config, { intervalMs: 5 });
  try {
    await Promise.all(
      Array.from({ length: 6 }, (_, writer) =>
        (async () => {
          for (let index = 0; index < 25; index += 1) {
            const id = `aud-w${writer}-${index}`;
            await executeOrder(trading.pool, { accountId: writer % 2 ? 'aud-a' : 'aud-b', clientOrderId: id, symbol: index % 2 ? 'AUD1' : 'AUD2', side: 'buy', quantity: '1', orderType: 'limit', limitPrice: '10' }, fill(id, '1', '10'));
          }
        })(),
      ),
    );
  } finally {
    await sealer.stop();
  }
  await sealEverything();
  const intact = await verifyAuditTrail(owner);
  expect(intact.problems).toEqual([]);
  expect(intact.unsealed).toBe(0);
  const orderChain = intact.chains.find((chain) => chain.table === 'execution.orders')!;
  const orderRows = await trading.admin.query("SELECT count(*)::int AS n FROM shared.audit_log WHERE table_name = 'orders'");
  expect(orderChain).toMatchObject({ rows: orderRows.rows[0].n, lastSeq: orderRows.rows[0].n });
  expect(orderChain.rows).toBeGreaterThanOrEqual(150);

  // One more sealer run on positions, so that the block sealing its third change is not the chain's last.
  await executeOrder(trading.pool, { accountId: 'aud-a', clientOrderId: 'aud-w-last', symbol: 'AUD1', side: 'buy', quantity: '1', orderType: 'limit', limitPrice: '10' }, fill('aud-w-last', '1', '10'));
  await sealEverything();
  const gapBlock = (await trading.admin.query(
    `SELECT first_seq::int AS first, cardinality(audit_ids) AS size FROM shared.audit_seal_blocks
      WHERE table_name = 'positions' AND first_seq <= 3 AND first_seq + cardinality(audit_ids) > 3`,
  )).rows[0] as { first: number; size: number };
  const positionsEnd = (await trading.admin.query("SELECT max(chain_seq)::int AS seq FROM shared.audit_chain() WHERE table_name = 'positions'")).rows[0].seq;

  // Tampering as a superuser who switches the triggers off.
  const sealOf = (table: string, seq: number) => `(SELECT audit_id FROM shared.audit_chain() WHERE table_name = '${table}' AND chain_seq = ${seq})`;
  await trading.admin.query('SET session_replication_role = replica');
  try {
    await trading.admin.query(`UPDATE shared.audit_log SET new_values = jsonb_set(new_values, '{quantity}', '1000') WHERE id = ${sealOf('orders', 7)}`);
    await trading.admin.query(`DELETE FROM shared.audit_log WHERE id = ${sealOf('orders', 9)}`);
    // Rows and their seals removed together leave a gap.
    await trading.admin.query(
      `DELETE FROM shared.audit_log WHERE id IN (SELECT unnest(audit_ids) FROM shared.audit_seal_blocks WHERE table_name = 'positions' AND first_seq = $1)`,
      [gapBlock.first],
    );
    await trading.admin.query("DELETE FROM shared.audit_seal_blocks WHERE table_name = 'positions' AND first_seq = $1", [gapBlock.first]);
    // A row added by hand, below what the sealer has covered.
    await trading.admin.query("INSERT INTO shared.audit_log (table_schema, table_name, row_key, operation, new_values, txid) VALUES ('execution', 'orders', '{}', 'INSERT', '{}', 1)");
  } finally {
    await trading.admin.query('RESET session_replication_role');
  }
  const forged = (await trading.admin.query("SELECT max(id)::int AS id FROM shared.audit_log")).rows[0].id;
  const broken = await verifyAuditTrail(owner, { seal: false });
  expect(broken.problems.map((problem) => `${problem.table} #${problem.chainSeq ?? '-'}: ${problem.problem}`)).toEqual([
    'execution.orders #7: content changed: the row no longer matches its seal',
    'execution.orders #9: row missing: the audit row this seal covers was deleted',
    'execution.orders #-: never sealed: a row below the sealed horizon without a seal (added by hand)',
    `execution.positions #${gapBlock.first + gapBlock.size}: ${gapBlock.size} seal(s) missing before this one`,
  ]);
  expect(broken.problems[2]!.auditId).toBe(forged);
  expect(positionsEnd).toBeGreaterThan(gapBlock.first + gapBlock.size);

  const cli = await runCli(['audit', 'verify', '--no-seal'], trading.db.env);
  expect(cli.code).toBe(1);
  expect(cli.stdout).toContain('TAMPERED execution.orders #7');
  expect(cli.stdout).toContain('audit trail BROKEN: 4 problem(s)');
}, 120_000);

it('`tradedb audit sealer` seals changes as they commit until Ctrl-C, then says how many it sealed', async () => {
  const child = spawn(process.execPath, [path.resolve('bin/tradedb.js'), 'audit', 'sealer', '--interval', '50'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...trading.db.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  try {
    await once(child.stdout, 'data');
    await trading.pools.services.data_ingestion.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('SEAL1'), ('SEAL2')");
    const sealed = () =>
      trading.admin.query("SELECT count(*)::int AS n FROM shared.audit_log a JOIN shared.audit_chain() s ON s.audit_id = a.id WHERE a.row_key->>'symbol' IN ('SEAL1', 'SEAL2')");
    await waitFor(async () => (await sealed()).rows[0].n === 2, { timeoutMs: 30_000 });
  } finally {
    child.kill('SIGINT');
  }
  expect((await exited)[0]).toBe(0);
  expect(stderr).toMatch(/audit sealer stopped after sealing [1-9]\d* rows\./);
});

it('`tradedb audit show` lists an order\'s changes, old → new, and names a bad table or key', async () => {
  const order = await trading.admin.query("SELECT id FROM execution.orders WHERE client_order_id = 'aud-0'");
  const shown = await runCli(['audit', 'show', '--table', 'orders', '--key', `account_id=aud-a,id=${order.rows[0].id}`], trading.db.env);
  expect(shown.code, shown.stderr).toBe(0);
  expect(shown.stdout).toMatch(/INSERT {2}execution_user as \S+ {2}tx \d+/);
  expect(shown.stdout).toMatch(/UPDATE {2}execution_user as \S+ {2}tx \d+\n {4}status: "\w+" → "cancelled", version: \d → \d/);
  // Found through the row-history index (on the hash of table and key), not by reading the trail.
  const client = await owner.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const plan = await client.query(`EXPLAIN ${ROW_HISTORY_SQL}`, ['execution', 'orders', JSON.stringify({ account_id: 'aud-a', id: String(order.rows[0].id) })]);
    expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Index Scan (using|on) audit_log_\w+_audit_row_ref_idx/);
  } finally {
    await client.query('RESET enable_seqscan');
    client.release();
  }
  const badTable = await runCli(['audit', 'show', '--table', 'trades', '--key', '1'], trading.db.env);
  expect(badTable).toMatchObject({ code: 1 });
  expect(badTable.stderr).toContain('--table: "trades" is not audited; audited tables: data_ingestion.symbols, execution.orders');
  const badKey = await runCli(['audit', 'show', '--table', 'positions', '--key', 'AUD1'], trading.db.env);
  expect(badKey.stderr).toContain("--key: execution.positions's key has several columns: give account_id=VALUE,symbol=VALUE");
});
