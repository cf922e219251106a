import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/api-runner.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createEventBus, type EventBus } from '../../src/events/event-bus.ts';
import { publishEvent } from '../../src/events/event-publisher.ts';
import type { OutboxRelay } from '../../src/events/outbox-relay.ts';
import { FlowRunRepository } from '../../src/orchestration/flow-run-repository.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium: CI installs it (.ci/run); elsewhere the test says why it is skipped. */
const hasChromium = spawnSync(CHROMIUM, ['--version']).status === 0;
const SCREENSHOTS = path.resolve('test-results');

let trading: TradingDatabase;
let api: RunningApi;
let bus: EventBus;
let relay: OutboxRelay;
let browser: Browser;
let token: string;

beforeAll(async () => {
  if (!hasChromium && !process.env.CI) return;
  trading = await openTradingDatabase('dashboard', { accounts: ['paper-main'], symbols: ['DASH'] });
  await trading.admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2025-01-01', 2)");
  await trading.admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source)
    SELECT 'DASH', '1d', d, 10 + i % 3, 14, 9, 10.5 + (i * 7) % 3, 100 + i, 'dash' FROM generate_series('2025-01-01'::timestamptz, '2025-01-31', '1 day') WITH ORDINALITY AS g (d, i)`);
  token = (await new ApiTokenService(trading.owner).create({ name: 'browser', scope: 'trade' })).token;
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  probe.close();
  const config = loadConfig({ env: { ...trading.db.env, TRADEDB_API_PORT: String(port) }, envFile: false });
  api = await startApi(config, trading.pools);
  // The relay publishes what the outbox holds, as npm start's does: the page's live updates.
  bus = createEventBus(config);
  relay = bus.createRelay({ pool: trading.owner, pollIntervalMs: 200 });
  await relay.start();
  const run = (await trading.admin.query<{ id: string }>("INSERT INTO data_ingestion.ingestion_runs (source, interval, status, finished_at, rows_rejected) VALUES ('dash', '1d', 'partial', now(), 1) RETURNING id")).rows[0]!.id;
  await trading.admin.query("INSERT INTO data_ingestion.data_quality_logs (ingestion_run_id, symbol, rule, severity, detail, line_number) VALUES ($1, 'DASH', 'high_below_low', 'error', 'high 9 is below low 10', 4)", [run]);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await relay?.stop();
  await bus?.close();
  await trading?.close();
});

it.skipIf(!hasChromium && !process.env.CI)('the dashboard draws the ingested bars as candles, a paper order placed from the page shows in its orders table, a new flow run in its panel, live updates arrive by server-sent events, and backups, data quality and database health show (skipped: no /usr/bin/chromium; apt-get install -y chromium)', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(`${api.url}/#token=${token}`);
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { bars: number } }).tradedbDashboard.bars > 0, undefined, { timeout: 20_000 });
    expect(await page.evaluate(() => (window as unknown as { tradedbDashboard: { bars: number } }).tradedbDashboard.bars)).toBe(31);
    expect(await page.textContent('#status')).toBe('DASH: 31 bars');
    // The chart is drawn: its canvases hold painted pixels, not an empty area.
    const painted = await page.evaluate(() =>
      [...document.querySelectorAll('#chart canvas')].reduce((sum, element) => {
        const canvas = element as HTMLCanvasElement;
        const context = canvas.getContext('2d');
        if (!context || canvas.width === 0) return sum;
        const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
        let colored = 0;
        for (let index = 0; index < pixels.length; index += 4) if (pixels[index + 3]! > 0 && (pixels[index]! < 240 || pixels[index + 1]! < 240)) colored += 1;
        return sum + colored;
      }, 0),
    );
    expect(painted).toBeGreaterThan(1000);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-chart.png') });

    // The token went to localStorage and left the address bar.
    expect(page.url()).not.toContain('token');
    await page.fill('#quantity', '3');
    await page.fill('#limit-price', '10.5');
    await page.click('#order-form button[type=submit]');
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { orders: number } }).tradedbDashboard.orders === 1, undefined, { timeout: 20_000 });
    const row = await page.textContent('#orders tbody tr');
    expect(row).toMatch(/DASH\s*buy\s*3\s*limit\s*10\.5/);
    const stored = await trading.admin.query("SELECT symbol, side, quantity::text, limit_price::text, status FROM execution.orders WHERE account_id = 'paper-main'");
    expect(stored.rows).toEqual([{ symbol: 'DASH', side: 'buy', quantity: '3.00000000', limit_price: '10.50000000', status: expect.any(String) }]);

    // A flow run appears in its panel (refreshed every 2 s until live updates come by events).
    await new FlowRunRepository(trading.pools.orchestration).createManual('daily-ingestion', {}, 3);
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { flowRuns: number } }).tradedbDashboard.flowRuns === 1, undefined, { timeout: 20_000 });
    expect(await page.textContent('#flow-runs tbody tr')).toMatch(/daily-ingestion\s*manual\s*scheduled\s*0\/3/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-order.png'), fullPage: true });

    // Live updates: an order placed by another client, and a backup, arrive by server-sent events.
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { live: boolean } }).tradedbDashboard.live, undefined, { timeout: 20_000 });
    expect(await page.textContent('#live')).toBe('live');
    const liveEvents = () => page.evaluate(() => (window as unknown as { tradedbDashboard: { liveEvents: number } }).tradedbDashboard.liveEvents);
    const eventsBefore = await liveEvents();
    const elsewhere = await fetch(`${api.url}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'from-elsewhere' },
      body: JSON.stringify({ account: 'paper-main', symbol: 'DASH', side: 'sell', type: 'limit', quantity: '1', limitPrice: '12' }),
    });
    expect(elsewhere.status).toBe(201);
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { orders: number } }).tradedbDashboard.orders === 2, undefined, { timeout: 20_000 });
    // The page received that order's event over the stream (polling does not count events).
    await page.waitForFunction((before) => (window as unknown as { tradedbDashboard: { liveEvents: number } }).tradedbDashboard.liveEvents > before, eventsBefore, { timeout: 20_000 });
    const eventsAfterOrder = await liveEvents();
    await trading.pools.orchestration.query(
      `INSERT INTO orchestration.backups (file, database_name, schemas, sha256, size_bytes, total_rows, server_version, tool_version, started_at, duration_ms, verified_at, verification)
       VALUES ('dash-backup.dump', 'trading_system', '{analytics}', repeat('b', 64), 2048, 31, '15', '15', now() - interval '2 hours', 40, now(), 'ok')`,
    );
    await publishEvent(trading.owner, { type: 'backup.completed', aggregate: { type: 'backup', id: 'dash-backup.dump' }, payload: { file: 'dash-backup.dump', database: 'trading_system', schemas: ['analytics'], sizeBytes: 2048, durationMs: 40 } });
    await page.waitForFunction(() => (window as unknown as { tradedbDashboard: { backups: number } }).tradedbDashboard.backups === 1, undefined, { timeout: 20_000 });
    await page.waitForFunction((before) => (window as unknown as { tradedbDashboard: { liveEvents: number } }).tradedbDashboard.liveEvents > before, eventsAfterOrder, { timeout: 20_000 });
    expect(await page.textContent('#backups tbody tr')).toMatch(/dash-backup\.dump\s*2\.0 h\s*2\.0 kB\s*31\s*ok/);

    // The rest of the page: data quality issues, each pool's connections, tables and partitions.
    expect(await page.textContent('#quality tbody tr')).toMatch(/4\s*DASH\s*high_below_low\s*high 9 is below low 10/);
    expect(await page.evaluate(() => (window as unknown as { tradedbDashboard: { pools: number } }).tradedbDashboard.pools)).toBeGreaterThanOrEqual(8);
    expect(await page.textContent('#partitions tbody')).toContain('data_ingestion.market_data');
    expect(await page.textContent('#tables tbody')).toContain('data_ingestion.market_data');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-full.png'), fullPage: true });
    expect(await page.evaluate(() => (window as unknown as { tradedbDashboard: { error: string | null } }).tradedbDashboard.error)).toBeNull();
  } finally {
    await page.close();
  }
}, 60_000);
