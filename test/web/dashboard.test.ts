import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/api-runner.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { FlowRunRepository } from '../../src/orchestration/flow-run-repository.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium: CI installs it (.ci/run); elsewhere the test says why it is skipped. */
const hasChromium = spawnSync(CHROMIUM, ['--version']).status === 0;
const SCREENSHOTS = path.resolve('test-results');

let trading: TradingDatabase;
let api: RunningApi;
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
  api = await startApi(loadConfig({ env: { ...trading.db.env, TRADEDB_API_PORT: String(port) }, envFile: false }), trading.pools, trading.owner);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await trading?.close();
});

it.skipIf(!hasChromium && !process.env.CI)('the dashboard draws the ingested bars as candles, a paper order placed from the page shows in its orders table, and a new flow run in its panel (skipped: no /usr/bin/chromium; apt-get install -y chromium)', async () => {
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
  } finally {
    await page.close();
  }
}, 60_000);
