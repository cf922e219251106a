import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { createOwnerPool } from '../src/db/owner-pool.ts';
import { createPools } from '../src/db/pools.ts';
import { runSetup } from '../src/db/setup.ts';
import { MAX_BARS } from '../src/api/routes/market-data-routes.ts';
import { barsJsonArraySelect } from '../src/services/data-ingestion/market-data-reader.ts';
import { OrderService } from '../src/services/execution/order-service.ts';
import { ApiTokenService } from '../src/services/shared/api-token-service.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { asAdmin, benchConfig, withCliProcess } from './bench-support.ts';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');
/** Concurrent connections: 16 as asked, and 1 for the overhead of one request alone. */
const CONNECTION_COUNTS = [1, 16];
const MAX_CONNECTIONS = 16;
/** Orders go to this many accounts in turn, as many clients' would: one account's orders queue on its risk lock. */
const ACCOUNTS = 16;
/** Clock ticks per second of /proc/PID/stat's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Figures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The API process's CPU time per request (API side only): its own cost, free of queueing. */
  apiCpuMsPerRequest?: number;
}

/**
 * `npm run bench -- api [--quick]`: GET /bars (a year of daily bars) and POST /orders at 16
 * concurrent connections (and at 1) with autocannon against a `tradedb api` process, next to the
 * same query and the same OrderService.place run directly on a pool by as many concurrent loops,
 * in the same run. The API's overhead per request is the difference of the p50 latencies
 * (target <= 1 ms), shown with the API process's CPU time per request: at 16 connections the two
 * cores are saturated (API, autocannon, PostgreSQL), so a p50 there is mostly queueing.
 */
export async function runApiBenchmark(flags: string[]): Promise<void> {
  const seconds = flags.includes('--quick') ? 3 : 10;
  const server = await chooseServer();
  const config = benchConfig(server.env, `${Date.now().toString(36)}_api`);
  const results: Record<string, unknown> = { seconds, server: server.kind, date: new Date().toISOString(), cpus: os.cpus().length };
  try {
    await runSetup(config);
    await asAdmin(config, async (admin) => {
      await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) SELECT 'bench-api-' || i, 'bench', 1000000000 FROM generate_series(0, $1 - 1) AS i", [ACCOUNTS]);
      await admin.query("INSERT INTO data_ingestion.symbols (symbol) VALUES ('BNCH')");
      await admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', '2024-01-01', 12)");
      await admin.query(`INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, source)
        SELECT 'BNCH', '1d', d, 100, 101, 99, 100.5, 1000, 'bench' FROM generate_series('2024-01-01'::timestamptz, '2024-12-31', '1 day') AS d`);
    });
    const owner = createOwnerPool(config);
    const token = (await new ApiTokenService(owner).create({ name: 'bench', scope: 'trade' })).token;
    await owner.end();

    const port = await freePort();
    // `tradedb api` as deployed: a process of its own.
    const apiEnv = { ...server.env, TRADEDB_API_PORT: String(port), TRADEDB_API_RATE_LIMIT: '100000000', TRADEDB_POOL_MAX: String(MAX_CONNECTIONS) };
    await withCliProcess(['api'], apiEnv, config, 'API listening', async (apiPid) => {
      const url = `http://127.0.0.1:${port}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      let key = 0;
      const order = (account: number) => JSON.stringify({ account: `bench-api-${account}`, symbol: 'BNCH', side: 'buy', type: 'limit', quantity: '1', limitPrice: '1' });
      for (const connections of CONNECTION_COUNTS) {
        const bars = {
          api: await cannon(apiPid, { url: `${url}/bars/BNCH?interval=1d&from=2024-01-01&to=2025-01-01`, headers, duration: seconds, connections }),
          direct: await directBars(config, seconds, connections),
        };
        const orders = {
          api: await cannon(apiPid, {
            url: `${url}/orders`,
            duration: seconds,
            connections,
            requests: [
              {
                method: 'POST',
                path: '/orders',
                setupRequest: (request) => {
                  key += 1;
                  return { ...request, body: order(key % ACCOUNTS), headers: { ...headers, 'idempotency-key': `bench-api-${key}` } };
                },
              },
            ],
          }),
          direct: await directOrders(config, seconds, connections),
        };
        for (const [name, pair] of Object.entries({ 'GET /bars (a year of daily bars)': bars, 'POST /orders': orders })) {
          const overhead = pair.api.p50Ms - pair.direct.p50Ms;
          console.log(
            `${String(connections).padStart(2)} conn ${name.padEnd(32)} API ${pair.api.requestsPerSecond.toFixed(0).padStart(6)} req/s p50 ${pair.api.p50Ms.toFixed(2)} ms p99 ${pair.api.p99Ms.toFixed(2)} ms (API CPU ${pair.api.apiCpuMsPerRequest?.toFixed(2)} ms/req)   ` +
              `direct ${pair.direct.requestsPerSecond.toFixed(0).padStart(6)} q/s p50 ${pair.direct.p50Ms.toFixed(2)} ms p99 ${pair.direct.p99Ms.toFixed(2)} ms   ` +
              `ratio ${(pair.api.requestsPerSecond / pair.direct.requestsPerSecond).toFixed(2)}   overhead p50 ${overhead.toFixed(2)} ms ${overhead <= 1 ? 'PASS' : 'MISS'} (target <= 1 ms)`,
          );
          results[`${name} @${connections}`] = { ...pair, overheadP50Ms: Math.round(overhead * 100) / 100 };
        }
      }
    });
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, flags.includes('--quick') ? 'api-quick.json' : 'api.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`figures written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await dropDatabases(config);
    await server.stop();
  }
}

/** autocannon against the API, with the API process's CPU time per request over the run. */
async function cannon(apiPid: number, options: autocannon.Options): Promise<Figures> {
  const cpuBefore = processCpuMs(apiPid);
  const result = await autocannon(options);
  const cpuMs = processCpuMs(apiPid) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`autocannon ${options.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, apiCpuMsPerRequest: Math.round((cpuMs / result.requests.total) * 1000) / 1000 };
}

/** User and system CPU time a process has used so far, from /proc/PID/stat. */
function processCpuMs(pid: number): number {
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1000;
}

/** `connections` loops running `work` back to back for `seconds`, with each call's latency. */
async function loops(seconds: number, connections: number, work: (loop: number, sequence: number) => Promise<unknown>): Promise<Figures> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, loop) => {
      for (let sequence = 0; performance.now() < deadline; sequence += 1) {
        const started = performance.now();
        await work(loop, sequence);
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (fraction: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * fraction))]!;
  return { requestsPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The same year of bars, by the same query the API runs (with its limit), on a pool of `connections` connections. */
async function directBars(config: DatabaseConfig, seconds: number, connections: number): Promise<Figures> {
  const pools = createPools(withPoolMax(config, connections));
  try {
    return await loops(seconds, connections, async () => {
      const client = await pools.services.data_ingestion.connect();
      try {
        await client.query(barsJsonArraySelect({ symbol: 'BNCH', interval: '1d', from: new Date('2024-01-01T00:00:00Z'), to: new Date('2025-01-01T00:00:00Z') }, client, MAX_BARS + 1));
      } finally {
        client.release();
      }
    });
  } finally {
    await pools.close();
  }
}

/** The same orders through OrderService.place on a pool of `connections` connections. */
async function directOrders(config: DatabaseConfig, seconds: number, connections: number): Promise<Figures> {
  const pools = createPools(withPoolMax(config, connections));
  const orders = new OrderService(pools.services.execution);
  try {
    return await loops(seconds, connections, (loop, sequence) =>
      orders.place({ accountId: `bench-api-${loop % ACCOUNTS}`, clientOrderId: `bench-direct-${loop}-${sequence}`, symbol: 'BNCH', side: 'buy', orderType: 'limit', quantity: '1', limitPrice: '1' }),
    );
  } finally {
    await pools.close();
  }
}

function withPoolMax(config: DatabaseConfig, max: number): DatabaseConfig {
  const services = Object.fromEntries(Object.entries(config.services).map(([name, service]) => [name, { ...service, pool: { ...service.pool, max } }]));
  return { ...config, services: services as DatabaseConfig['services'] };
}

async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  return port;
}
