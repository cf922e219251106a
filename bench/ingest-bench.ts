import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { runSetup } from '../src/db/setup.ts';
import { createPools } from '../src/db/pools.ts';
import { BarBatch, MARKET_DATA_COPY_COLUMNS } from '../src/services/data-ingestion/bar-batch.ts';
import { BarValidator, type ValidBar } from '../src/services/data-ingestion/bar-validator.ts';
import { ingestBars } from '../src/services/data-ingestion/ingest-pipeline.ts';
import { barsSelect, streamBars } from '../src/services/data-ingestion/market-data-reader.ts';
import { SyntheticProvider } from '../src/services/data-ingestion/providers/synthetic-provider.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { asAdmin, benchConfig, median, psql, runProcess } from './bench-support.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/tradedb.js');
const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');
const START = new Date('2025-01-06T00:00:00Z');
const YEAR_START = new Date('2024-01-01T00:00:00Z');
const READ_ROUNDS = 3;

interface Size {
  symbols: number;
  bars: number;
  /** Rows the batch-of-100 baseline loads (it is measured on a prefix: its rate is steady). */
  baselineRows: number;
  /** 1-minute bars of the one symbol read back. */
  yearBars: number;
}
const FULL: Size = { symbols: 500, bars: 10_000, baselineRows: 250_000, yearBars: 525_600 };
const QUICK: Size = { symbols: 50, bars: 2_000, baselineRows: 20_000, yearBars: 60_000 };

/**
 * `npm run bench -- ingest [--quick]`: synthetic 1-minute bars into the real partitioned,
 * indexed market_data, each method on its own freshly set-up database (identical tables):
 * psql \copy of the same rows (the limit), `tradedb ingest` (fresh range, then a re-load with
 * 10 % of rows changed), the seed's multi-row INSERT ... ON CONFLICT in batches of 100, and
 * reading one symbol's year back against psql's COPY (SELECT ...) TO STDOUT.
 */
export async function runIngestBenchmark(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const size = quick ? QUICK : FULL;
  const rows = size.symbols * size.bars;
  const server = await chooseServer();
  const work = mkdtempSync(path.join(os.tmpdir(), 'tradedb-bench-ingest-'));
  const stamp = Date.now().toString(36);
  const configs = { reference: benchConfig(server.env, `${stamp}_ref`), tradedb: benchConfig(server.env, `${stamp}_ours`), batch100: benchConfig(server.env, `${stamp}_b100`) };
  const results: Record<string, unknown> = { quick, rows, symbols: size.symbols, barsPerSymbol: size.bars, interval: '1m', server: server.kind, date: new Date().toISOString(), cpus: os.cpus().length };
  try {
    for (const config of Object.values(configs)) await prepareDatabase(config, size.symbols);
    // The reference's rows point to ingestion run 1, as the rows tradedb loads point to its run.
    await asAdmin(configs.reference, (admin) => admin.query("INSERT INTO data_ingestion.ingestion_runs (source, interval) VALUES ('synthetic', '1m')"));

    console.log(`writing ${rows.toLocaleString('en-US')} bars as COPY text and as CSV (10 % changed) ...`);
    const copyFile = path.join(work, 'bars.copy');
    const changedCsv = path.join(work, 'bars-changed.csv');
    await writeInputs(size, copyFile, changedCsv);

    const reference = await timed(() => psql(configs.reference, configs.reference.trading.database, `\\copy data_ingestion.market_data (${MARKET_DATA_COPY_COLUMNS}) FROM '${copyFile}'`));
    const referenceRate = rows / reference.seconds;
    report('reference  psql \\copy (fresh range)', rows, reference.seconds);

    const fresh = await timed(() =>
      cli(configs.tradedb, ['ingest', 'synthetic', '--symbols', String(size.symbols), '--bars', String(size.bars), '--interval', '1m', '--seed', '42', '--start', START.toISOString(), '--json']),
    );
    const freshSummary = JSON.parse(fresh.value) as { inserted: number; peakRssMb: number; batches: unknown };
    if (freshSummary.inserted !== rows) throw new Error(`tradedb inserted ${freshSummary.inserted} of ${rows}`);
    report('tradedb    ingest synthetic (fresh)', rows, fresh.seconds, referenceRate);

    const reload = await timed(() => cli(configs.tradedb, ['ingest', 'csv', changedCsv, '--interval', '1m', '--source', 'synthetic', '--json']));
    const reloadSummary = JSON.parse(reload.value) as { updated: number; unchanged: number; peakRssMb: number };
    if (reloadSummary.updated !== rows / 10) throw new Error(`re-load updated ${reloadSummary.updated}, expected ${rows / 10}`);
    report('tradedb    ingest csv, 10 % changed', rows, reload.seconds, referenceRate);

    const baseline = await timed(() => insertBatchesOf100(configs.batch100, size));
    report(`seed       INSERT .. ON CONFLICT x100 (${size.baselineRows.toLocaleString('en-US')} rows)`, size.baselineRows, baseline.seconds, referenceRate);
    const baselineRate = size.baselineRows / baseline.seconds;

    const reading = await readingBenchmark(configs.tradedb, size.yearBars);

    const figures = {
      referenceCopyRowsPerSecond: Math.round(referenceRate),
      freshRowsPerSecond: Math.round(rows / fresh.seconds),
      freshVsCopy: round2(rows / fresh.seconds / referenceRate),
      freshVsBatch100: round2(rows / fresh.seconds / baselineRate),
      reloadRowsPerSecond: Math.round(rows / reload.seconds),
      reloadVsCopy: round2(rows / reload.seconds / referenceRate),
      batch100RowsPerSecond: Math.round(baselineRate),
      batch100MeasuredRows: size.baselineRows,
      freshPeakRssMb: freshSummary.peakRssMb,
      reloadPeakRssMb: reloadSummary.peakRssMb,
      reloadCsvMegabytes: Math.round(statSync(changedCsv).size / 1e6),
      ...reading,
    };
    Object.assign(results, figures);
    console.log('');
    check('fresh range >= 0.8x psql \\copy', figures.freshVsCopy >= 0.8, `${figures.freshVsCopy}x`);
    check('fresh range >= 20x batch-of-100', figures.freshVsBatch100 >= 20, `${figures.freshVsBatch100}x`);
    check('re-load with 10 % changed >= 0.6x psql \\copy', figures.reloadVsCopy >= 0.6, `${figures.reloadVsCopy}x`);
    check('read a year of 1m bars within 1.5x of psql COPY TO STDOUT', reading.readVsCopyTime <= 1.5, `${reading.readVsCopyTime}x the time`);
    check('peak memory of the ingest process < 300 MB', Math.max(figures.freshPeakRssMb, figures.reloadPeakRssMb) < 300, `${figures.freshPeakRssMb} MB fresh, ${figures.reloadPeakRssMb} MB re-load of a ${figures.reloadCsvMegabytes} MB CSV`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const resultFile = path.join(RESULTS_DIR, quick ? 'ingest-quick.json' : 'ingest.json');
    writeFileSync(resultFile, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nfigures written to ${path.relative(process.cwd(), resultFile)}`);
  } finally {
    for (const config of Object.values(configs)) await dropDatabases(config);
    rmSync(work, { recursive: true, force: true });
    await server.stop();
  }
}


const symbolNames = (count: number) => Array.from({ length: count }, (_, index) => `SYN${String(index + 1).padStart(4, '0')}`);

/** A set-up database with the symbols, run #1 (which the reference's rows point to) and the months' partitions. */
async function prepareDatabase(config: DatabaseConfig, symbols: number): Promise<void> {
  await dropDatabases(config);
  await runSetup(config);
  await asAdmin(config, async (admin) => {
    await admin.query('INSERT INTO data_ingestion.symbols (symbol) SELECT unnest($1::text[])', [[...symbolNames(symbols), 'YEAR']]);
    await admin.query("SELECT shared.create_monthly_partitions('data_ingestion.market_data', $1, 2)", [START.toISOString().slice(0, 10)]);
  });
}


/** The rows of the run as COPY text (for psql) and as CSV with every tenth row's volume changed (the re-load). */
async function writeInputs(size: Size, copyFile: string, changedCsv: string): Promise<void> {
  const copyOut = createWriteStream(copyFile);
  const csvOut = createWriteStream(changedCsv);
  csvOut.write('symbol,timestamp,open,high,low,close,volume\n');
  const validator = new BarValidator({ interval: '1m', isKnownSymbol: () => 'known' });
  let batch = new BarBatch('1m', 'synthetic', 1);
  let csv: string[] = [];
  let index = 0;
  const flush = async () => {
    await write(copyOut, batch.copyChunks().join(''));
    await write(csvOut, csv.join(''));
    batch = new BarBatch('1m', 'synthetic', 1);
    csv = [];
  };
  for await (const row of new SyntheticProvider({ symbolCount: size.symbols, interval: '1m', bars: size.bars, seed: 42, start: START }).rows()) {
    const verdict = validator.check(row);
    if (!('bar' in verdict)) throw new Error(`synthetic row rejected: ${verdict.rejection.detail}`);
    const bar: ValidBar = verdict.bar;
    batch.addBar(bar);
    index += 1;
    const volume = index % 10 === 0 ? String(BigInt(bar.volume) + 1n) : bar.volume;
    csv.push(`${bar.symbol},${bar.tsText},${bar.open},${bar.high},${bar.low},${bar.close},${volume}\n`);
    if (batch.barCount >= 50_000) await flush();
  }
  await flush();
  await Promise.all([new Promise((resolve) => copyOut.end(resolve)), new Promise((resolve) => csvOut.end(resolve))]);
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => (stream.write(text) ? resolve() : stream.once('drain', resolve)));
}

/** The seed's method: multi-row INSERT ... ON CONFLICT DO UPDATE, 100 rows a statement, one transaction per statement. */
async function insertBatchesOf100(config: DatabaseConfig, size: Size): Promise<void> {
  const pools = createPools(config);
  const pool = pools.services.data_ingestion;
  const validator = new BarValidator({ interval: '1m', isKnownSymbol: () => 'known' });
  const columns = ['symbol', 'interval', 'ts', 'open', 'high', 'low', 'close', 'volume', 'source'];
  let values: unknown[] = [];
  let done = 0;
  const send = async () => {
    const tuples = Array.from({ length: values.length / columns.length }, (_, row) => `(${columns.map((_, column) => `$${row * columns.length + column + 1}`).join(', ')})`);
    await pool.query(
      `INSERT INTO data_ingestion.market_data (${columns.join(', ')}) VALUES ${tuples.join(', ')}
       ON CONFLICT (symbol, interval, ts, source) DO UPDATE SET open = excluded.open, high = excluded.high,
         low = excluded.low, close = excluded.close, volume = excluded.volume`,
      values,
    );
    values = [];
  };
  try {
    for await (const row of new SyntheticProvider({ symbolCount: size.symbols, interval: '1m', bars: size.bars, seed: 42, start: START }).rows()) {
      const verdict = validator.check(row);
      if (!('bar' in verdict)) continue;
      const bar = verdict.bar;
      values.push(bar.symbol, '1m', bar.tsText, bar.open, bar.high, bar.low, bar.close, bar.volume, 'synthetic');
      done += 1;
      if (done % 100 === 0) await send();
      if (done >= size.baselineRows) break;
    }
    if (values.length > 0) await send();
  } finally {
    await pools.close();
  }
}

/** One symbol's year of 1-minute bars, read back by tradedb (in process, and the CLI) and by psql. */
async function readingBenchmark(config: DatabaseConfig, yearBars: number) {
  const pools = createPools(config);
  const pool = pools.services.data_ingestion;
  try {
    const load = await ingestBars(pool, { provider: new SyntheticProvider({ symbols: ['YEAR'], interval: '1m', bars: yearBars, seed: 7, start: YEAR_START }), interval: '1m', source: 'synthetic' });
    if (load.inserted !== yearBars) throw new Error(`year load inserted ${load.inserted}`);
    const range = { symbol: 'YEAR', interval: '1m' as const, from: YEAR_START, to: new Date(YEAR_START.getTime() + yearBars * 60_000), source: 'synthetic' };
    const client = await pool.connect();
    const select = barsSelect(range, 'csv', client);
    client.release();
    const psqlTimes: number[] = [];
    const oursTimes: number[] = [];
    const cliTimes: number[] = [];
    let bytes = 0;
    for (let round = 0; round < READ_ROUNDS; round += 1) {
      psqlTimes.push((await timed(() => psql(config, config.trading.database, `COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER)`, true))).seconds);
      oursTimes.push(
        (
          await timed(async () => {
            bytes = 0;
            const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((bytes += chunk.length), done()) });
            const written = await streamBars(pool, range, 'csv', sink);
            if (written !== yearBars) throw new Error(`read ${written} bars of ${yearBars}`);
          })
        ).seconds,
      );
      cliTimes.push((await timed(() => cli(config, ['bars', 'YEAR', '--interval', '1m', '--from', range.from.toISOString(), '--to', range.to.toISOString(), '--source', 'synthetic'], true))).seconds);
    }
    const psqlSeconds = median(psqlTimes);
    const oursSeconds = median(oursTimes);
    const cliSeconds = median(cliTimes);
    console.log(`reference  psql COPY (SELECT ..) TO STDOUT, ${yearBars.toLocaleString('en-US')} bars  median ${psqlSeconds.toFixed(2)} s`);
    console.log(`tradedb    streamBars (in process, ${(bytes / 1e6).toFixed(0)} MB CSV)   median ${oursSeconds.toFixed(2)} s  time ratio ${(oursSeconds / psqlSeconds).toFixed(2)}`);
    console.log(`tradedb    \`tradedb bars\` CLI (process start included)  median ${cliSeconds.toFixed(2)} s  time ratio ${(cliSeconds / psqlSeconds).toFixed(2)}`);
    return { readBars: yearBars, readPsqlSeconds: round2(psqlSeconds), readTradedbSeconds: round2(oursSeconds), readVsCopyTime: round2(oursSeconds / psqlSeconds), readCliSeconds: round2(cliSeconds), readCliVsCopyTime: round2(cliSeconds / psqlSeconds) };
  } finally {
    await pools.close();
  }
}

/** Runs the real CLI against `config`'s server and databases; returns its stdout. */
function cli(config: DatabaseConfig, args: string[], toNull = false): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    POSTGRES_HOST: config.server.host,
    POSTGRES_PORT: String(config.server.port),
    POSTGRES_USER: config.server.admin.user,
    POSTGRES_PASSWORD: config.server.admin.password ?? '',
    TRADING_DB_NAME: config.trading.database,
    ORCHESTRATION_DB_NAME: config.orchestration.database,
    TRADING_DB_PASSWORD: config.trading.owner.password ?? '',
    SERVICE_DB_PASSWORD: config.services.data_ingestion.password ?? '',
  };
  return runProcess(process.execPath, [BIN, ...args], env, toNull);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

function report(label: string, rows: number, seconds: number, referenceRate?: number): void {
  const rate = rows / seconds;
  const ratio = referenceRate ? `  ${(rate / referenceRate).toFixed(2)}x psql \\copy` : '';
  console.log(`${label.padEnd(52)} ${seconds.toFixed(2).padStart(8)} s  ${Math.round(rate).toLocaleString('en-US').padStart(9)} rows/s${ratio}`);
}

function check(label: string, ok: boolean, figure: string): void {
  console.log(`${ok ? 'PASS' : 'MISS'}  ${label}: ${figure}`);
}


const round2 = (value: number) => Math.round(value * 100) / 100;
