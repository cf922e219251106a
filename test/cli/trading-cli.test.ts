import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

let trading: TradingDatabase;
beforeAll(async () => {
  trading = await openTradingDatabase('tradingcli', { accounts: [], symbols: ['ACME'] });
});
afterAll(() => trading?.close());

const tradedb = (...args: string[]) => runCli(args, trading.db.env);
// Each test runs a dozen or more `tradedb` processes, 1.5–3 s each to start on a loaded two-core machine.
const CLI_TEST_TIMEOUT_MS = 180_000;

it('accounts, limits, orders through the risk check, the kill switch and positions from the command line', async () => {
  expect((await tradedb('accounts', 'add', 'paper-main', '--name', 'Paper', '--cash', '100000')).stdout).toContain('added account paper-main');
  const duplicate = await tradedb('accounts', 'add', 'paper-main', '--name', 'Again');
  expect(duplicate.code).toBe(1);
  expect(duplicate.stderr).toContain('already exists');

  expect((await tradedb('risk', 'set-limit', '--account', 'paper-main', '--type', 'max_order_notional', '--value', '1000')).code).toBe(0);
  const placed = await tradedb('orders', 'place', '--account', 'paper-main', '--symbol', 'acme', '--side', 'buy', '--quantity', '10', '--type', 'limit', '--limit-price', '100', '--client-order-id', 'cli-1', '--json');
  expect(placed.code, placed.stderr).toBe(0);
  expect(JSON.parse(placed.stdout)).toMatchObject({ created: true, order: { clientOrderId: 'cli-1', status: 'pending', quantity: '10' } });
  const retried = await tradedb('orders', 'place', '--account', 'paper-main', '--symbol', 'ACME', '--side', 'buy', '--quantity', '10', '--type', 'limit', '--limit-price', '100', '--client-order-id', 'cli-1');
  expect(retried.stdout).toContain('already placed');

  const tooBig = await tradedb('orders', 'place', '--account', 'paper-main', '--symbol', 'ACME', '--side', 'buy', '--quantity', '11', '--type', 'limit', '--limit-price', '100');
  expect(tooBig.code).toBe(1);
  expect(tooBig.stderr).toMatch(/rejected by the risk check: max_order_notional 1000 \(account\): the order's notional would be 1100/);
  expect(tooBig.stderr).not.toMatch(/\n\s+at /);

  const badQuantity = await tradedb('orders', 'place', '--account', 'paper-main', '--symbol', 'ACME', '--side', 'buy', '--quantity', '1.123456789');
  expect(badQuantity.stderr).toContain('quantity: has 9 decimals; at most 8 are allowed');

  await tradedb('risk', 'kill-switch', 'on', '--reason', 'drill');
  expect((await tradedb('orders', 'place', '--account', 'paper-main', '--symbol', 'ACME', '--side', 'sell', '--quantity', '1', '--type', 'limit', '--limit-price', '1'))).toMatchObject({ code: 1, stderr: expect.stringContaining('kill switch is on: drill') });
  await tradedb('risk', 'kill-switch', 'off');

  const listed = JSON.parse((await tradedb('orders', 'list', '--account', 'paper-main', '--json')).stdout) as Array<{ status: string }>;
  expect(listed.map((order) => order.status).sort()).toEqual(['pending', 'rejected', 'rejected']);
  const events = JSON.parse((await tradedb('risk', 'events', '--account', 'paper-main', '--json')).stdout) as Array<{ eventType: string }>;
  expect(events.map((event) => event.eventType).sort()).toEqual(['kill_switch', 'max_order_notional']);

  const cancelled = await tradedb('orders', 'cancel', String((listed.find((order) => order.status === 'pending') as unknown as { id: number }).id), '--account', 'paper-main');
  expect(cancelled.stdout).toMatch(/cancelled/);
  expect((await tradedb('positions', '--account', 'paper-main', '--json')).stdout.trim()).toBe('[]');
}, CLI_TEST_TIMEOUT_MS);

it('position limits from the command line: set, listed, enforced, and bad values named', async () => {
  await tradedb('accounts', 'add', 'capped', '--name', 'Capped', '--cash', '1000');
  const set = await tradedb('risk', 'set-position-limit', '--account', 'capped', '--symbol', 'acme', '--max-long', '5', '--max-short', '0');
  expect(set.stdout).toContain('position limit ACME: long 5, short 0');
  expect(JSON.parse((await tradedb('risk', 'position-limits', '--account', 'capped', '--json')).stdout)).toMatchObject([{ symbol: 'ACME', maxLongQuantity: '5', maxShortQuantity: '0', enabled: true }]);
  const short = await tradedb('orders', 'place', '--account', 'capped', '--symbol', 'ACME', '--side', 'sell', '--quantity', '1', '--type', 'limit', '--limit-price', '1');
  expect(short).toMatchObject({ code: 1, stderr: expect.stringContaining('position limit ACME short 0: the position could reach -1') });
  expect((await tradedb('risk', 'set-position-limit', '--account', 'capped', '--symbol', 'ACME', '--max-long', '-1')).stderr).toContain('maxLong: expected an amount 0 or more with at most 8 decimals, got "-1"');
  expect((await tradedb('risk', 'set-position-limit', '--account', 'capped', '--symbol', 'ACME')).stderr).toContain('Give --max-long, --max-short or both.');
}, CLI_TEST_TIMEOUT_MS);
