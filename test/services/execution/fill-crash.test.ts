import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OrderService } from '../../../src/services/execution/order-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../../support/trading-database.ts';
import { waitFor, waitForSleepingBackend } from '../../support/wait-for.ts';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../support/record-fill-child.ts');
let trading: TradingDatabase;

beforeAll(async () => {
  trading = await openTradingDatabase('fillcrash', { accounts: ['acct-k'], symbols: ['KILL'] });
});
afterAll(() => trading?.close());


async function snapshot() {
  const { rows } = await trading.admin.query(
    `SELECT (SELECT count(*) FROM execution.trades)::int AS trades, (SELECT count(*) FROM execution.order_events)::int AS events,
            (SELECT row(status, filled_quantity, version)::text FROM execution.orders) AS "order",
            (SELECT row(quantity, average_cost, realized_pnl, version)::text FROM execution.positions) AS position`,
  );
  return rows[0];
}

it('a process killed (kill -9) in the middle of a fill leaves none of it', async () => {
  const orders = new OrderService(trading.pool);
  const { order } = await orders.place({ accountId: 'acct-k', symbol: 'KILL', side: 'buy', quantity: '10' });
  await orders.submit('acct-k', order.id);
  const before = await snapshot();
  // The fill's transaction stops for a minute at its position update: the trade and the order
  // are already written in it when the process dies.
  await trading.admin.query(`CREATE FUNCTION execution.test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$`);
  await trading.admin.query('CREATE TRIGGER test_pause BEFORE UPDATE ON execution.positions FOR EACH ROW EXECUTE FUNCTION execution.test_pause()');
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ accountId: 'acct-k', orderId: order.id, brokerFillId: 'k-1', quantity: '10', price: '5' })], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...trading.db.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
  try {
    const backend = await waitForSleepingBackend(trading.admin);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // The server notices the dead client at its next read; a pg_sleep is cut short by a cancel.
    await trading.admin.query('SELECT pg_cancel_backend($1)', [backend]);
    await waitFor(async () => (await trading.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend])).rows.length === 0);
  } finally {
    await trading.admin.query('DROP TRIGGER test_pause ON execution.positions; DROP FUNCTION execution.test_pause()');
  }
  expect(await snapshot()).toEqual(before);
  // And the fill can be delivered again, in full.
  const { recordFill } = await import('../../../src/services/execution/fill-service.ts');
  const redelivered = await recordFill(trading.pool, { accountId: 'acct-k', orderId: order.id, brokerFillId: 'k-1', quantity: '10', price: '5' });
  expect(redelivered).toMatchObject({ duplicate: false, order: { status: 'filled' }, position: { quantity: '10' } });
});
