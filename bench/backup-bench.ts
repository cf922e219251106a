import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { createPools } from '../src/db/pools.ts';
import { connectAdmin, runSetup } from '../src/db/setup.ts';
import type { BackupManifest } from '../src/ops/backup-manifest.ts';
import { takeBackup } from '../src/ops/backup-service.ts';
import { verifyBackup } from '../src/ops/restore.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { clientToolEnv } from '../test/support/schema-dump.ts';
import { asAdmin, benchConfig, median } from './bench-support.ts';

const run = promisify(execFile);
const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');
/** 1-minute bars per symbol: about seven days from the start of this month, inside its partition. */
const MINUTES = 10_000;

/**
 * `npm run bench -- backup [--quick]`: `tradedb backup` (takeBackup: pg_dump -Fc of the default
 * schemas and their dependencies, per-table counts and checksums in the same snapshot, sha256,
 * catalogue row, retention) of a database holding 5 million bars (`--quick`: 200,000) against raw
 * `pg_dump -Fc` of exactly the same schemas as the same role, alternating, in the same run; then
 * verifyBackup (restore into a scratch database, fingerprint every table, compare, drop) against raw
 * `pg_restore` of the same file with the same --jobs (and serially) into an empty database.
 */
export async function runBackupBenchmark(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const symbols = quick ? 20 : 500;
  const bars = symbols * MINUTES;
  const rounds = quick ? 1 : 3;
  const jobs = Math.min(4, os.cpus().length);
  const server = await chooseServer();
  const stamp = Date.now().toString(36);
  const config = benchConfig(server.env, `${stamp}_backup`);
  const rawRestoreDb = `tdbb_${stamp}_backup_raw_restore`;
  const work = mkdtempSync(path.join(os.tmpdir(), 'tradedb-bench-backup-'));
  const oursDir = path.join(work, 'tradedb');
  const rawDir = path.join(work, 'raw');
  mkdirSync(rawDir, { recursive: true });
  const results: Record<string, unknown> = { quick, bars, symbols, barsPerSymbol: MINUTES, interval: '1m', rounds, server: server.kind, date: new Date().toISOString(), cpus: os.cpus().length };
  try {
    await runSetup(config);
    const loading = await timed(() => fillDatabase(config, symbols));
    console.log(`loaded ${bars.toLocaleString('en-US')} bars (one INSERT .. SELECT, then VACUUM ANALYZE) in ${loading.seconds.toFixed(1)} s`);

    // Alternating (ours, raw, raw, ours, ...) so neither always runs on a warmer cache.
    const oursTimes: number[] = [];
    const rawTimes: number[] = [];
    const dumpDurations: number[] = [];
    let manifest: BackupManifest | undefined;
    let rawBytes = 0;
    const pools = createPools(config);
    try {
      const backupOnce = async () => {
        const taken = await timed(() => takeBackup(config, { directory: oursDir, keepDaily: 7, keepWeekly: 4 }, pools.orchestration, {}));
        manifest = taken.value.manifests[0]!;
        oursTimes.push(taken.seconds);
        dumpDurations.push(manifest.durationMs / 1000);
        return taken.seconds;
      };
      const rawOnce = async () => {
        if (!manifest) throw new Error('the raw pg_dump needs the schemas of a tradedb backup first');
        const file = path.join(rawDir, 'raw.dump');
        const args = ['-Fc', '-f', file, ...manifest.schemas.flatMap((schema) => ['-n', schema]), ...manifest.extensions.map((name) => `--extension=${name}`), config.trading.database];
        const raw = await timed(() => run('pg_dump', args, { env: ownerEnv(config) }));
        rawBytes = statSync(file).size;
        unlinkSync(file);
        rawTimes.push(raw.seconds);
        return raw.seconds;
      };
      for (let round = 0; round < rounds; round += 1) {
        const order = round % 2 === 0 ? [backupOnce, rawOnce] : [rawOnce, backupOnce];
        const [first, second] = [await order[0]!(), await order[1]!()];
        const [ours, raw] = round % 2 === 0 ? [first, second] : [second, first];
        console.log(`  round ${round + 1}: tradedb ${ours.toFixed(2)} s (manifest durationMs ${dumpDurations.at(-1)!.toFixed(2)} s)  raw pg_dump ${raw.toFixed(2)} s`);
      }
    } finally {
      await pools.close();
    }
    const backup = manifest!;
    const file = path.join(oursDir, backup.file);
    const oursSeconds = median(oursTimes);
    const rawSeconds = median(rawTimes);
    const backupRatio = oursSeconds / rawSeconds;
    console.log(`schemas ${backup.schemas.join(', ')}${backup.extensions.length ? `; extensions ${backup.extensions.join(', ')}` : ''}; ${backup.totalRows.toLocaleString('en-US')} rows; file ${(backup.sizeBytes / 1e6).toFixed(1)} MB (raw ${(rawBytes / 1e6).toFixed(1)} MB)`);
    console.log(`backup  tradedb ${oursSeconds.toFixed(2)} s  raw pg_dump ${rawSeconds.toFixed(2)} s  ratio ${backupRatio.toFixed(2)} ${backupRatio <= 1.1 ? 'PASS' : 'MISS'} (target <= 1.1)`);

    // Verification of the last backup against raw pg_restore of the same file, same order rule.
    const verifyTimes: number[] = [];
    const restoreTimes: number[] = [];
    const serialTimes: number[] = [];
    const verifyOnce = async () => {
      const verified = await timed(() => verifyBackup(config, file));
      if (!verified.value.ok) throw new Error(`verifyBackup found differences:\n${verified.value.differences.join('\n')}`);
      if (verified.value.rows !== backup.totalRows) throw new Error(`verifyBackup counted ${verified.value.rows} rows, the manifest ${backup.totalRows}`);
      verifyTimes.push(verified.seconds);
      return verified.seconds;
    };
    const restoreOnce = (jobCount: number | undefined, into: number[]) => async () => {
      const seconds = await rawRestore(config, rawRestoreDb, file, jobCount);
      into.push(seconds);
      return seconds;
    };
    for (let round = 0; round < rounds; round += 1) {
      const steps = [verifyOnce, restoreOnce(jobs, restoreTimes), restoreOnce(undefined, serialTimes)];
      for (const step of round % 2 === 0 ? steps : [...steps].reverse()) await step();
      console.log(`  round ${round + 1}: verify ${verifyTimes.at(-1)!.toFixed(2)} s  raw pg_restore --jobs=${jobs} ${restoreTimes.at(-1)!.toFixed(2)} s  serial ${serialTimes.at(-1)!.toFixed(2)} s`);
    }
    const verifySeconds = median(verifyTimes);
    const restoreSeconds = median(restoreTimes);
    const serialSeconds = median(serialTimes);
    const verifyRatio = verifySeconds / restoreSeconds;
    const serialRatio = verifySeconds / serialSeconds;
    console.log(`verify  tradedb ${verifySeconds.toFixed(2)} s  raw pg_restore ${restoreSeconds.toFixed(2)} s  ratio ${verifyRatio.toFixed(2)} ${verifyRatio <= 2 ? 'PASS' : 'MISS'} (target <= 2)`);
    console.log(`        (pg_restore --jobs=${jobs} against serial pg_restore ${serialSeconds.toFixed(2)} s: verify ratio ${serialRatio.toFixed(2)})`);

    Object.assign(results, {
      loadSeconds: round2(loading.seconds),
      schemas: backup.schemas,
      extensions: backup.extensions,
      totalRows: backup.totalRows,
      fileBytes: backup.sizeBytes,
      rawFileBytes: rawBytes,
      backup: {
        tradedbSeconds: round2(oursSeconds),
        rawPgDumpSeconds: round2(rawSeconds),
        ratio: round2(backupRatio),
        target: 1.1,
        pass: backupRatio <= 1.1,
        tradedbRuns: oursTimes.map(round2),
        rawPgDumpRuns: rawTimes.map(round2),
        manifestDurationRuns: dumpDurations.map(round2),
      },
      verify: {
        jobs,
        tradedbSeconds: round2(verifySeconds),
        rawPgRestoreSeconds: round2(restoreSeconds),
        ratio: round2(verifyRatio),
        target: 2,
        pass: verifyRatio <= 2,
        rawSerialPgRestoreSeconds: round2(serialSeconds),
        ratioVsSerial: round2(serialRatio),
        tradedbRuns: verifyTimes.map(round2),
        rawPgRestoreRuns: restoreTimes.map(round2),
        rawSerialPgRestoreRuns: serialTimes.map(round2),
      },
    });
    mkdirSync(RESULTS_DIR, { recursive: true });
    const resultFile = path.join(RESULTS_DIR, quick ? 'backup-quick.json' : 'backup.json');
    writeFileSync(resultFile, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`figures written to ${path.relative(process.cwd(), resultFile)}`);
  } finally {
    await dropDatabases(config);
    const admin = await connectAdmin(config, config.server.maintenanceDatabase);
    await admin.query(`DROP DATABASE IF EXISTS "${rawRestoreDb}" WITH (FORCE)`).finally(() => admin.end());
    rmSync(work, { recursive: true, force: true });
    await server.stop();
  }
}

/**
 * `symbols` × MINUTES 1-minute bars from the start of this month (UTC), prices wandering a little
 * per symbol and minute so the dump compresses like real data; an account and its summary in the
 * other schemas the backup takes.
 */
async function fillDatabase(config: DatabaseConfig, symbols: number): Promise<void> {
  await asAdmin(config, async (admin) => {
    await admin.query("INSERT INTO data_ingestion.symbols (symbol, name) SELECT 'SYM' || lpad(s::text, 4, '0'), 'Symbol ' || s FROM generate_series(1, $1::int) s", [symbols]);
    await admin.query(
      `INSERT INTO data_ingestion.market_data (symbol, interval, ts, open, high, low, close, volume, vwap, trade_count, source)
       SELECT symbol, '1m', ts, open, greatest(open, close) + spread, least(open, close) - spread, close, volume,
              round((open + close) / 2, 4), trade_count, 'bench'
         FROM (SELECT 'SYM' || lpad(s::text, 4, '0') AS symbol,
                      (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + m * interval '1 minute' AS ts,
                      round(20 + s * 0.7 + 5 * sin(m / 300.0 + s)::numeric + ((m * 7919 + s * 104729) % 100) / 100.0, 4) AS open,
                      round(20 + s * 0.7 + 5 * sin((m + 1) / 300.0 + s)::numeric + ((m * 6007 + s * 7727) % 100) / 100.0, 4) AS close,
                      ((m * 31 + s) % 50) / 100.0 + 0.01 AS spread,
                      100 + (m * 2654435761 + s * 40503) % 100000 AS volume,
                      1 + (m * 17 + s) % 500 AS trade_count
                 FROM generate_series(1, $1::int) s, generate_series(0, $2::int - 1) m) AS bar`,
      [symbols, MINUTES],
    );
    await admin.query("INSERT INTO shared.accounts (account_id, name, starting_cash) VALUES ('bench-backup', 'Backup bench', 100000)");
    await admin.query(
      `INSERT INTO analytics.portfolio_summary (account_id, as_of, cash, market_value, equity, gross_exposure, net_exposure, realized_pnl, unrealized_pnl)
       SELECT 'bench-backup', current_date - d, 100000 - d, d * 10, 100000 + d * 9, d * 10, d * 10, d, d * 2 FROM generate_series(0, 29) d`,
    );
    await admin.query('VACUUM ANALYZE');
  });
}

/** Raw pg_restore of `file` (with --jobs when given) as the superuser into a new, empty database; only pg_restore is timed. */
async function rawRestore(config: DatabaseConfig, database: string, file: string, jobs: number | undefined): Promise<number> {
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}" OWNER "${config.trading.owner.user}" TEMPLATE template0 ENCODING 'UTF8'`);
    const restored = await timed(() => run('pg_restore', [...(jobs ? [`--jobs=${jobs}`] : []), '-d', database, file], { env: clientToolEnv(config), maxBuffer: 16 * 1024 * 1024 }));
    return restored.seconds;
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).finally(() => admin.end());
  }
}

/** The client tools' environment, connecting as the trading database's owner (as tradedb backup does). */
function ownerEnv(config: DatabaseConfig): NodeJS.ProcessEnv {
  return { ...clientToolEnv(config), PGUSER: config.trading.owner.user, PGPASSWORD: config.trading.owner.password ?? '', PGSSLMODE: config.server.sslmode };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

const round2 = (value: number) => Math.round(value * 100) / 100;
