import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { startApi } from '../../src/api/api-runner.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { buildApiServer } from '../../src/api/api-server.ts';
import { publishEvent } from '../../src/events/event-publisher.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

let trading: TradingDatabase;
let api: FastifyInstance;
const token: Record<'read' | 'trade', string> = { read: '', trade: '' };

beforeAll(async () => {
  trading = await openTradingDatabase('api', { accounts: ['api-a', 'api-b'], symbols: ['APIX'] });
  await trading.admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2025-01-01', 2)");
  await trading.admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source)
    SELECT 'APIX', '1d', d, 10, 11, 9, 10.5, 100, 'api-test' FROM generate_series('2025-01-01'::timestamptz, '2025-01-31', '1 day') AS d`);
  const tokens = new ApiTokenService(trading.owner);
  token.read = (await tokens.create({ name: 'reader', scope: 'read' })).token;
  token.trade = (await tokens.create({ name: 'trader', scope: 'trade' })).token;
  api = await buildApiServer({ pools: trading.pools, rateLimitPerMinute: 1000 });
});
afterAll(async () => {
  await api?.close();
  await trading?.close();
});

/** The configuration of this test's databases, without Redis unless the environment has it. */
const settings = (env: Record<string, string>) => loadConfig({ env: { ...trading.db.env, ...env }, envFile: false });
const auth = (scope: 'read' | 'trade') => ({ authorization: `Bearer ${token[scope]}` });
const order = { account: 'api-a', symbol: 'APIX', side: 'buy', type: 'limit', quantity: '2', limitPrice: '10.5' };

describe('the HTTP API', () => {
  it('health needs no token and names each database, Redis, the workers and the relay; the OpenAPI document lists the routes', async () => {
    const health = async () => {
      const response = await api.inject({ method: 'GET', url: '/health' });
      expect(response.statusCode).toBe(200);
      return response.json();
    };
    // No worker runs in this test: degraded, with what to do.
    expect(await health()).toMatchObject({
      status: 'degraded',
      databases: { trading: { status: 'ok' }, orchestration: { status: 'ok' } },
      redis: { status: 'not_configured' },
      worker: { status: 'down', running: 0, detail: expect.stringContaining('tradedb worker') },
      relay: { status: 'ok', pending: 0 },
    });
    await trading.pools.orchestration.query("INSERT INTO orchestration.workers (worker_id, hostname, pid) VALUES ('health-test', 'here', 1)");
    expect(await health()).toMatchObject({ status: 'ok', worker: { status: 'ok', running: 1 } });
    // An event nobody published for a minute: no relay is running.
    await publishEvent(trading.owner, { type: 'config.changed', aggregate: { type: 'config', id: 'health' }, payload: { key: 'health', value: 1, version: 1, updatedBy: 'test' } });
    await trading.admin.query("UPDATE shared.event_outbox SET occurred_at = now() - interval '1 minute' WHERE aggregate_id = 'health'");
    expect(await health()).toMatchObject({ status: 'degraded', relay: { status: 'down', pending: 1, detail: expect.stringContaining('relay') } });
    await trading.admin.query("DELETE FROM shared.event_outbox WHERE aggregate_id = 'health'");
    await trading.pools.orchestration.query("DELETE FROM orchestration.workers WHERE worker_id = 'health-test'");
    const document = await api.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(document.json().paths)).toEqual(expect.arrayContaining(['/health', '/symbols', '/bars/{symbol}', '/orders']));
    expect((await api.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    expect((await api.inject({ method: 'GET', url: '/health' })).headers['x-content-type-options']).toBe('nosniff');
  });

  it('every other route needs a live token of a high enough scope: 401 without or with a bad one, 403 below the scope', async () => {
    const none = await api.inject({ method: 'GET', url: '/symbols' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('Authorization: Bearer <token>') } });
    // Refusals carry their correlation id too.
    expect(none.headers['x-correlation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api.inject({ method: 'GET', url: '/symbols', headers: { authorization: 'Bearer tdb_wrong' } })).statusCode).toBe(401);
    expect((await api.inject({ method: 'GET', url: '/symbols', headers: { authorization: token.read } })).statusCode).toBe(401);
    const reading = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('read'), 'idempotency-key': 'r-1' }, payload: order });
    expect(reading.statusCode).toBe(403);
    expect(reading.json().error).toEqual({ code: 'forbidden', message: 'This needs a trade token; reader is read.' });
    expect((await trading.admin.query('SELECT count(*)::int AS n FROM execution.orders')).rows[0].n).toBe(0);
  });

  it('a revoked token stops working once the short token cache forgets it', async () => {
    const { token: shortLived } = await new ApiTokenService(trading.owner).create({ name: 'revoked-soon', scope: 'read' });
    const quick = await buildApiServer({ pools: trading.pools, tokenCacheMs: 200 });
    try {
      const ask = async () => (await quick.inject({ method: 'GET', url: '/symbols', headers: { authorization: `Bearer ${shortLived}` } })).statusCode;
      expect(await ask()).toBe(200);
      await new ApiTokenService(trading.owner).revoke('revoked-soon');
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await ask()).toBe(401);
    } finally {
      await quick.close();
    }
  });

  it('symbols and bars: a month of daily bars, a range, a weekly resample; bad parameters named', async () => {
    expect((await api.inject({ method: 'GET', url: '/symbols', headers: auth('read') })).json().symbols.map((row: { symbol: string }) => row.symbol)).toContain('APIX');
    const bars = await api.inject({ method: 'GET', url: '/bars/apix?from=2025-01-10&to=2025-01-13', headers: auth('read') });
    expect(bars.statusCode, bars.body).toBe(200);
    expect(bars.json()).toEqual({
      symbol: 'APIX',
      interval: '1d',
      bars: ['10', '11', '12'].map((day) => expect.objectContaining({ ts: `2025-01-${day}T00:00:00Z`, open: '10', close: '10.5', volume: '100', source: 'api-test' })),
    });
    const weekly = await api.inject({ method: 'GET', url: '/bars/APIX?resample=1wk&source=api-test', headers: auth('read') });
    expect(weekly.json().bars[1]).toMatchObject({ ts: '2025-01-06T00:00:00Z', volume: '700', interval: '1wk' });
    const badDate = await api.inject({ method: 'GET', url: '/bars/APIX?from=yesterday', headers: auth('read') });
    expect(badDate.statusCode).toBe(400);
    expect(badDate.json().error).toMatchObject({ code: 'invalid_request', field: 'from' });
    const unknown = await api.inject({ method: 'GET', url: '/bars/APIX?color=red', headers: auth('read') });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toMatch(/color/);
  });

  it('POST /orders places through the risk check, idempotent by Idempotency-Key, audited as the token; bad bodies name the field and write nothing', async () => {
    const first = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'api-order-1' }, payload: order });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().order).toMatchObject({ accountId: 'api-a', clientOrderId: 'api-order-1', symbol: 'APIX', quantity: '2', limitPrice: '10.5' });
    const again = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'api-order-1' }, payload: order });
    expect(again.statusCode).toBe(200);
    expect(again.json().order.id).toBe(first.json().order.id);
    const different = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'api-order-1' }, payload: { ...order, quantity: '3' } });
    expect(different.statusCode).toBe(409);
    expect(different.json().error.code).toBe('duplicate_client_order_id');
    const audited = await trading.admin.query("SELECT actor FROM shared.audit_log WHERE table_name = 'orders' AND row_key->>'id' = $1", [String(first.json().order.id)]);
    expect(audited.rows.map((row) => row.actor)).toEqual(expect.arrayContaining(['api:trader']));
    const listed = await api.inject({ method: 'GET', url: '/orders?account=api-a', headers: auth('read') });
    expect(listed.json().orders.map((row: { clientOrderId: string }) => row.clientOrderId)).toEqual(['api-order-1']);

    const before = (await trading.admin.query('SELECT count(*)::int AS n FROM execution.orders')).rows[0].n;
    const cases: Array<[unknown, string | undefined, number, string]> = [
      [{ ...order, quantity: '-1' }, 'bad-1', 400, 'quantity'],
      [{ ...order, quantity: '0.123456789' }, 'bad-2', 400, 'quantity'],
      [{ ...order, side: 'hold' }, 'bad-3', 400, 'side'],
      [{ ...order, extra: 1 }, 'bad-4', 400, 'extra'],
      // SQL meta-characters are data: an unknown symbol.
      [{ ...order, symbol: "X' OR '1'='1" }, 'bad-5', 404, 'Unknown symbol'],
      [order, undefined, 400, 'idempotency-key'],
    ];
    for (const [payload, key, status, field] of cases) {
      const response = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), ...(key ? { 'idempotency-key': key } : {}) }, payload: payload as object });
      expect(`${key} ${response.statusCode}`, response.body).toBe(`${key} ${status}`);
      expect(response.json().error.message).not.toMatch(/\n\s+at /);
      if (field) expect(JSON.stringify(response.json().error)).toContain(field);
    }
    const malformed = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'bad-6', 'content-type': 'application/json' }, payload: '{"account": ' });
    expect(malformed.statusCode).toBe(400);
    const huge = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'bad-7', 'content-type': 'application/json' }, payload: JSON.stringify({ ...order, symbol: 'x'.repeat(100_000) }) });
    expect(huge.statusCode).toBe(413);
    expect((await trading.admin.query('SELECT count(*)::int AS n FROM execution.orders')).rows[0].n).toBe(before);
  });

  it("positions, risk limits and events are the account's alone; a cancel with a stale version is a 409, a fresh one cancels", async () => {
    await trading.admin.query("INSERT INTO risk_management.risk_limits (account_id, scope, limit_type, limit_value) VALUES ('api-b', 'account', 'max_order_notional', 5)");
    const placed = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'api-cancel-1' }, payload: { ...order, account: 'api-b', quantity: '0.1' } });
    expect(placed.statusCode, placed.body).toBe(201);
    const breached = await api.inject({ method: 'POST', url: '/orders', headers: { ...auth('trade'), 'idempotency-key': 'api-big-1' }, payload: { ...order, account: 'api-b', quantity: '100' } });
    expect(breached.statusCode).toBe(422);
    expect(breached.json().error).toMatchObject({ code: 'risk_rejected', message: expect.stringContaining('max_order_notional') });
    const events = await api.inject({ method: 'GET', url: '/risk/events?account=api-b', headers: auth('read') });
    expect(events.json().events).toHaveLength(1);
    expect((await api.inject({ method: 'GET', url: '/risk/events?account=api-a', headers: auth('read') })).json().events).toEqual([]);
    expect((await api.inject({ method: 'GET', url: '/risk/limits?account=api-b', headers: auth('read') })).json().limits).toHaveLength(1);
    const positions = await api.inject({ method: 'GET', url: '/positions?account=api-b', headers: auth('read') });
    expect(positions.statusCode).toBe(200);
    expect(positions.json().positions.every((row: { accountId: string }) => row.accountId === 'api-b')).toBe(true);

    const { id, version } = placed.json().order;
    const stale = await api.inject({ method: 'POST', url: `/orders/${id}/cancel`, headers: auth('trade'), payload: { account: 'api-b', expectedVersion: version + 5 } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('concurrent_update');
    const elsewhere = await api.inject({ method: 'POST', url: `/orders/${id}/cancel`, headers: auth('trade'), payload: { account: 'api-a' } });
    expect(elsewhere.statusCode).toBe(404);
    const cancelled = await api.inject({ method: 'POST', url: `/orders/${id}/cancel`, headers: auth('trade'), payload: { account: 'api-b', expectedVersion: version } });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json().order.status).toBe('cancelled');
  });
});

it('startApi listens where configured and answers over HTTP; a port in use is named, with what to do', async () => {
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const busy = (blocker.address() as net.AddressInfo).port;
  try {
    await expect(startApi(settings({ TRADEDB_API_PORT: String(busy) }), trading.pools)).rejects.toThrow(
      `The API cannot listen on 127.0.0.1:${busy}: the port is in use. Set TRADEDB_API_PORT to a free one (or start with --no-api).`,
    );
  } finally {
    blocker.close();
  }
  const running = await startApi(settings({ TRADEDB_API_PORT: String(busy), TRADEDB_API_RATE_LIMIT: '2' }), trading.pools);
  try {
    expect(running.url).toBe(`http://127.0.0.1:${busy}`);
    const response = await fetch(`${running.url}/health`);
    expect(response.status).toBe(200);
    // The rate limit counts per token: the third request of the minute is refused, in the API's error shape.
    const statuses = [];
    for (let index = 0; index < 3; index += 1) statuses.push((await fetch(`${running.url}/symbols`, { headers: { authorization: `Bearer ${token.read}` } })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const limited = await fetch(`${running.url}/symbols`, { headers: { authorization: `Bearer ${token.read}` } });
    expect(await limited.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/^More than 2 requests a minute: retry in \d+ s\.$/) } });
    expect((await fetch(`${running.url}/symbols`, { headers: { authorization: `Bearer ${token.trade}` } })).status).toBe(200);
  } finally {
    await running.stop();
  }
});

/** promtool (Debian's prometheus package): CI installs it; elsewhere the check says why it is skipped. */
const promtool = spawnSync('promtool', ['--version']).status === 0;

it.skipIf(!promtool && !process.env.CI)('/metrics needs a token and serves pools, query durations, ingestion, outbox, jobs, backups and sizes in a format promtool accepts (skipped: promtool not installed; apt-get install prometheus)', async () => {
  expect((await api.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
  await api.inject({ method: 'GET', url: '/symbols', headers: auth('read') });
  const scraped = await api.inject({ method: 'GET', url: '/metrics', headers: auth('read') });
  expect(scraped.statusCode).toBe(200);
  expect(scraped.headers['content-type']).toMatch(/^text\/plain/);
  for (const name of ['tradedb_pool_connections{pool="execution",state="max"} 5', 'tradedb_query_duration_seconds_count{pool="data_ingestion"}', 'tradedb_ingested_rows{outcome="inserted"}', 'tradedb_outbox_pending_events', 'tradedb_flow_runs{state="running"}', 'tradedb_database_size_bytes{database="', 'tradedb_table_size_bytes{table="data_ingestion.market_data"}']) {
    expect(scraped.body).toContain(name);
  }
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: scraped.body, encoding: 'utf8' });
  expect(`${checked.status} ${checked.stdout}${checked.stderr}`).toBe('0 ');
});
