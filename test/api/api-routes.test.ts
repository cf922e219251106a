import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../src/api/api-server.ts';
import { PortfolioAnalytics } from '../../src/services/analytics/portfolio-analytics.ts';
import { StrategyService } from '../../src/services/strategy-engine/strategy-service.ts';
import { ApiTokenService, type TokenScope } from '../../src/services/shared/api-token-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

let trading: TradingDatabase;
let api: FastifyInstance;
const token: Record<TokenScope, string> = { read: '', trade: '', admin: '' };
const auth = (scope: TokenScope) => ({ authorization: `Bearer ${token[scope]}` });

beforeAll(async () => {
  trading = await openTradingDatabase('apiroutes', { accounts: ['routes-a', 'routes-b'], symbols: ['RTEX', 'RTEY'] });
  await trading.admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2025-01-01', 1)");
  const tokens = new ApiTokenService(trading.owner);
  for (const scope of ['read', 'trade', 'admin'] as const) token[scope] = (await tokens.create({ name: `routes-${scope}`, scope })).token;
  api = await buildApiServer({ pools: trading.pools, rateLimitPerMinute: 10_000 });
});
afterAll(async () => {
  await api?.close();
  await trading?.close();
});

async function get(url: string, scope: TokenScope = 'read') {
  const response = await api.inject({ method: 'GET', url, headers: auth(scope) });
  return { status: response.statusCode, body: response.json() };
}

describe('the read routes of the API', () => {
  it("a symbol's company: profile, latest statistics, holders of the latest report; an unknown symbol is a 404", async () => {
    const run = (await trading.admin.query<{ id: string }>("INSERT INTO data_ingestion.ingestion_runs (source, status, finished_at) VALUES ('routes', 'succeeded', now()) RETURNING id")).rows[0]!.id;
    await trading.admin.query("INSERT INTO data_ingestion.company_info (symbol, name, sector, employees, market_cap, ingestion_run_id) VALUES ('RTEX', 'Routes Inc.', 'Technology', 120, 5000000, $1)", [run]);
    await trading.admin.query(
      "INSERT INTO data_ingestion.key_statistics (symbol, as_of, pe_ratio, ingestion_run_id) VALUES ('RTEX', '2025-01-01', 10.5, $1), ('RTEX', '2025-02-01', 12.25, $1)",
      [run],
    );
    await trading.admin.query(
      "INSERT INTO data_ingestion.institutional_holders (symbol, report_date, holder, shares, ingestion_run_id) VALUES ('RTEX', '2024-12-31', 'Old Fund', 5, $1), ('RTEX', '2025-03-31', 'Big Fund', 900, $1), ('RTEX', '2025-03-31', 'Small Fund', 10, $1)",
      [run],
    );
    const company = await get('/symbols/rtex/company');
    expect(company.status).toBe(200);
    expect(company.body).toMatchObject({
      symbol: 'RTEX',
      company: { name: 'Routes Inc.', sector: 'Technology', employees: 120, marketCap: '5000000', ingestionRunId: Number(run) },
      statistics: { asOf: '2025-02-01', peRatio: '12.25' },
      holders: [{ holder: 'Big Fund', shares: '900' }, { holder: 'Small Fund', shares: '10' }],
    });
    expect(await get('/symbols/RTEY/company')).toEqual({ status: 200, body: { symbol: 'RTEY', company: null, statistics: null, holders: [] } });
    const unknown = await get('/symbols/NOPE/company');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('NOPE');
  });

  it("an account's stored portfolio summaries and performance, inside its row-level security", async () => {
    await new PortfolioAnalytics(trading.pools.services.analytics).performance('routes-a', '2025-01-02', '2025-01-03', 'inception');
    const portfolio = await get('/portfolio?account=routes-a&limit=2');
    expect(portfolio.status).toBe(200);
    expect(portfolio.body.summaries).toHaveLength(2);
    expect(portfolio.body.summaries[0]).toMatchObject({ accountId: 'routes-a', asOf: '2025-01-04T00:00:00.000Z', cash: '100000', equity: '100000', unrealizedPnl: '0' });
    const performance = await get('/performance?account=routes-a&period=inception');
    expect(performance.body.performance).toEqual([expect.objectContaining({ period: 'inception', periodStart: '2025-01-02', periodEnd: '2025-01-03', returns: '0', trades: 0 })]);
    expect((await get('/performance?account=routes-a&period=daily')).body.performance).toEqual([]);
    // Another account sees none of them.
    expect((await get('/portfolio?account=routes-b')).body.summaries).toEqual([]);
    const badPeriod = await get('/performance?account=routes-a&period=hourly');
    expect(badPeriod.status).toBe(400);
    expect(badPeriod.body.error.field).toBe('period');
  });

  it("strategies and a strategy's signals, newest first", async () => {
    const strategies = new StrategyService(trading.pools.services.strategy_engine);
    const strategy = await strategies.create({ name: 'routes-manual', kind: 'manual' });
    await strategies.update(strategy.id, strategy.version, { status: 'active' });
    for (const day of ['2025-01-02', '2025-01-03']) await strategies.recordSignal(strategy.id, { symbol: 'RTEX', signalType: 'buy', generatedAt: new Date(`${day}T00:00:00Z`) });
    const listed = await get('/strategies');
    expect(listed.body.strategies).toEqual([expect.objectContaining({ id: strategy.id, name: 'routes-manual', kind: 'manual', status: 'active', version: 2 })]);
    const signals = await get(`/strategies/${strategy.id}/signals?limit=1`);
    expect(signals.body.signals).toEqual([expect.objectContaining({ strategyId: strategy.id, symbol: 'RTEX', signalType: 'buy', generatedAt: '2025-01-03T00:00:00.000Z' })]);
    expect((await get('/strategies/abc/signals')).status).toBe(400);
  });

  it("data quality issues: the newest of all runs, of one symbol, of one run in line order; an unknown run is a 404", async () => {
    const run = (await trading.admin.query<{ id: string }>("INSERT INTO data_ingestion.ingestion_runs (source, interval, status, finished_at, rows_rejected) VALUES ('routes-csv', '1d', 'partial', now(), 2) RETURNING id")).rows[0]!.id;
    await trading.admin.query(
      `INSERT INTO data_ingestion.data_quality_logs (ingestion_run_id, symbol, rule, severity, detail, raw_input, line_number)
       VALUES ($1, 'RTEY', 'high_below_low', 'error', 'high 9 is below low 10', 'RTEY,2025-01-02,10,9,10,10,5', 7),
              ($1, 'RTEX', 'negative_volume', 'error', 'volume -5 is negative', 'RTEX,2025-01-02,10,11,9,10,-5', 3)`,
      [run],
    );
    expect((await get('/quality')).body.issues.map((issue: { lineNumber: number }) => issue.lineNumber)).toEqual([3, 7]);
    expect((await get(`/quality?run=${run}`)).body.issues.map((issue: { rule: string }) => issue.rule)).toEqual(['negative_volume', 'high_below_low']);
    expect((await get('/quality?symbol=rtey')).body.issues).toEqual([expect.objectContaining({ symbol: 'RTEY', detail: 'high 9 is below low 10', rawInput: 'RTEY,2025-01-02,10,9,10,10,5' })]);
    const unknown = await get('/quality?run=999999');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ field: 'run', message: 'There is no ingestion run 999999.' });
  });

  it("database health: each pool's connections, the largest tables, every partition, the slowest statements or why they cannot be read", async () => {
    const health = await get('/database?top=5');
    expect(health.status).toBe(200);
    expect(health.body.pools).toEqual(expect.arrayContaining([expect.objectContaining({ pool: 'execution', max: 5 }), expect.objectContaining({ pool: 'orchestration' })]));
    expect(health.body.tables.map((table: { table: string }) => table.table)).toContain('data_ingestion.market_data');
    expect(health.body.partitions).toEqual(expect.arrayContaining([expect.objectContaining({ parent: 'data_ingestion.market_data', partition: 'data_ingestion.market_data_p202501', estimatedRows: null, bounds: expect.stringContaining("FOR VALUES FROM ('2025-01-01") })]));
    const slow = health.body.slowestQueries;
    if ('unavailable' in slow) expect(slow.unavailable).toMatch(/pg_stat_statements/);
    else {
      expect(slow.queries.length).toBeLessThanOrEqual(5);
      for (const query of slow.queries) expect(query).toEqual({ query: expect.any(String), role: expect.anything(), calls: expect.any(Number), totalMs: expect.any(Number), meanMs: expect.any(Number), rows: expect.any(Number) });
    }
  });

  it('logs by correlation id: a request returns its id, and the id finds the events it caused', async () => {
    const placed = await api.inject({
      method: 'POST',
      url: '/orders',
      headers: { ...auth('trade'), 'idempotency-key': 'routes-log-1' },
      payload: { account: 'routes-a', symbol: 'RTEX', side: 'buy', type: 'limit', quantity: '1', limitPrice: '5' },
    });
    expect(placed.statusCode, placed.body).toBe(201);
    const correlation = placed.headers['x-correlation-id'] as string;
    expect(correlation).toMatch(/^[0-9a-f-]{36}$/);
    const logs = await get(`/logs?correlation=${correlation}`);
    expect(logs.body.lines).toEqual([expect.objectContaining({ kind: 'event', message: expect.stringMatching(/^order\.placed order\//), correlationId: correlation })]);
    expect((await get('/logs?level=loud')).status).toBe(400);
  });
});

describe('flows and backups through the API', () => {
  it('an admin token queues a flow run with checked parameters; lower scopes, unknown flows and bad parameters are refused', async () => {
    const queued = await api.inject({ method: 'POST', url: '/flows/nightly-maintenance/runs', headers: auth('admin'), payload: { parameters: { monthsAhead: 2 } } });
    expect(queued.statusCode, queued.body).toBe(202);
    expect(queued.json().run).toMatchObject({ flowName: 'nightly-maintenance', state: 'scheduled', trigger: 'manual' });
    const runs = await get('/flows/runs?name=nightly-maintenance');
    expect(runs.body.runs.map((run: { id: number }) => run.id)).toEqual([queued.json().run.id]);

    const trader = await api.inject({ method: 'POST', url: '/flows/nightly-maintenance/runs', headers: auth('trade'), payload: {} });
    expect(trader.statusCode).toBe(403);
    const unknown = await api.inject({ method: 'POST', url: '/flows/make-money/runs', headers: auth('admin'), payload: {} });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain('daily-ingestion');
    const bad = await api.inject({ method: 'POST', url: '/flows/nightly-maintenance/runs', headers: auth('admin'), payload: { parameters: { monthsAhead: 'many' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('monthsAhead');
    expect((await get('/flows/runs?name=nightly-maintenance')).body.runs).toHaveLength(1);
  });

  it('backups: the catalogue newest first, pruned ones on request; POST queues a backup run (admin only)', async () => {
    for (const [file, pruned] of [['old.dump', true], ['new.dump', false]] as const) {
      await trading.pools.orchestration.query(
        `INSERT INTO orchestration.backups (file, database_name, schemas, sha256, size_bytes, total_rows, server_version, tool_version, started_at, duration_ms, pruned_at)
         VALUES ($1, 'trading_system', '{data_ingestion}', repeat('a', 64), 1000, 10, '15', '15', now() - ($2 || ' hours')::interval, 50, CASE WHEN $3 THEN now() END)`,
        [file, pruned ? '48' : '1', pruned],
      );
    }
    expect((await get('/backups')).body.backups.map((backup: { file: string }) => backup.file)).toEqual(['new.dump']);
    expect((await get('/backups?pruned=true')).body.backups.map((backup: { file: string }) => backup.file)).toEqual(['new.dump', 'old.dump']);
    expect((await api.inject({ method: 'POST', url: '/backups', headers: auth('trade'), payload: {} })).statusCode).toBe(403);
    const badSchema = await api.inject({ method: 'POST', url: '/backups', headers: auth('admin'), payload: { schemas: ['x; DROP'] } });
    expect(badSchema.statusCode).toBe(400);
    const started = await api.inject({ method: 'POST', url: '/backups', headers: auth('admin'), payload: { schemas: ['analytics'] } });
    expect(started.statusCode, started.body).toBe(202);
    expect(started.json().run).toMatchObject({ flowName: 'weekly-backup', state: 'scheduled', parameters: { schemas: ['analytics'] } });
  });
});
