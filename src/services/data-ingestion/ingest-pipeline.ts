import { serviceLogger } from '../logging/logger.ts';
import { recordOperation } from '../logging/performance-log.ts';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type pg from 'pg';
import { UserFacingError } from '../../db/errors.ts';
import { withTransaction } from '../../db/transaction.ts';
import { BarBatch } from './bar-batch.ts';
import { BarValidator } from './bar-validator.ts';
import type { BarProvider } from './input-row.ts';
import type { Interval } from './interval.ts';
import { ingestionRunRepository, type RunStatus } from './ingestion-run-repository.ts';
import { type LoadPath, loadBarBatch } from './market-data-loader.ts';
import { PartitionKeeper } from './partition-keeper.ts';
import { qualityLogRepository } from './quality-log-repository.ts';
import { symbolRepository } from './symbol-repository.ts';

// Often enough that the socket never runs dry: a hundred rows take well under a millisecond.
const YIELD_EVERY_ROWS = 128;

/** A source name as stored in market_data.source: short, no spaces, safe in any log line. */
const SOURCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export interface IngestOptions {
  provider: BarProvider;
  interval: Interval;
  /** Stored in market_data.source and keyed in symbol_data_status; default the provider's kind. */
  source?: string;
  /** Create symbols the input names that are not in data_ingestion.symbols (default false: reject their rows). */
  createSymbols?: boolean;
  /** Bars per transaction (default 50,000). Each committed batch moves the watermarks of its series. */
  batchSize?: number;
  /** Recorded with the run (file name, options) for lineage. */
  parameters?: Record<string, unknown>;
  /** Called every 128 rows read (for a progress bar). */
  onRowsRead?: (rowsRead: number) => void;
  /** Aborting stops reading; the run is recorded as cancelled after the batch in flight. */
  signal?: AbortSignal;
  /** The clock for the future-bar rule (tests). */
  now?: () => number;
}

export interface IngestSummary {
  runId: number;
  status: RunStatus;
  source: string;
  interval: Interval;
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  seconds: number;
  /** Batches per load path: how often the fast path was possible. */
  batches: Record<LoadPath, number>;
  /** Rejections per rule. */
  rejectedByRule: Record<string, number>;
  createdSymbols: string[];
  error: string | null;
}

/**
 * Runs provider → normalize/validate → load for one (source, interval), streaming in batches.
 * Reading the next batch overlaps the database's work on the previous one (the two cores each
 * have a job), and at most two batches are in memory, whatever the input's size.
 *
 * Rows that break a rule are not loaded: they go to data_quality_logs (in the transaction of
 * their batch) and the rest loads. A database failure rolls back the batch in flight (its bars,
 * its watermark moves, its log rows), records the failure on the run and on its series, and
 * ends the run as failed; batches committed before it stay, with their watermarks.
 */
export async function ingestBars(pool: pg.Pool, options: IngestOptions): Promise<IngestSummary> {
  const source = options.source ?? options.provider.kind;
  if (!SOURCE_PATTERN.test(source)) {
    throw new UserFacingError(`--source ${JSON.stringify(source)} must be 1 to 64 characters of letters, digits and _ . : - (starting with a letter or digit).`);
  }
  const batchSize = options.batchSize ?? 50_000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserFacingError(`batch size must be a whole number above 0, got ${batchSize}`);
  const startedAt = performance.now();
  const runId = await ingestionRunRepository.start(pool, {
    source,
    interval: options.interval,
    parameters: { provider: options.provider.kind, createSymbols: options.createSymbols ?? false, batchSize, ...options.parameters },
  });
  const summary: IngestSummary = {
    runId,
    status: 'running',
    source,
    interval: options.interval,
    read: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    seconds: 0,
    batches: { direct: 0, merge: 0 },
    rejectedByRule: {},
    createdSymbols: [],
    error: null,
  };

  const knownSymbols = new Set(await symbolRepository.allSymbols(pool));
  let batch = new BarBatch(options.interval, source, runId);
  const validator = new BarValidator({
    interval: options.interval,
    now: options.now,
    isKnownSymbol: (symbol) => {
      if (knownSymbols.has(symbol)) return 'known';
      if (!options.createSymbols) return 'unknown';
      batch.newSymbols.add(symbol);
      return 'known';
    },
  });
  const partitions = new PartitionKeeper(pool);
  const series = { source, interval: options.interval };

  const commitBatch = async (full: BarBatch): Promise<void> => {
    await partitions.ensure(full.months);
    const outcome = await withTransaction(pool, async (client) => {
      if (full.newSymbols.size > 0) await symbolRepository.insertMissing(client, [...full.newSymbols]);
      const loaded = full.barCount > 0 ? await loadBarBatch(client, full, series) : undefined;
      await qualityLogRepository.insertRejections(client, runId, full.rejections);
      const counts = { read: full.rowsRead, inserted: loaded?.inserted ?? 0, updated: loaded?.updated ?? 0, unchanged: loaded?.unchanged ?? 0, rejected: full.rejections.length };
      await ingestionRunRepository.addProgress(client, runId, counts);
      return { loaded, counts };
    });
    for (const symbol of full.newSymbols) {
      if (!summary.createdSymbols.includes(symbol)) summary.createdSymbols.push(symbol);
    }
    summary.read += outcome.counts.read;
    summary.inserted += outcome.counts.inserted;
    summary.updated += outcome.counts.updated;
    summary.unchanged += outcome.counts.unchanged;
    summary.rejected += outcome.counts.rejected;
    for (const rejection of full.rejections) summary.rejectedByRule[rejection.rule] = (summary.rejectedByRule[rejection.rule] ?? 0) + 1;
    if (outcome.loaded) summary.batches[outcome.loaded.path] += 1;
  };

  // One batch is committed while the next is read; a failure is picked up at the next turn.
  let inFlight: Promise<void> = Promise.resolve();
  let failedBatch: BarBatch | undefined;
  let failure: unknown;
  const commitInBackground = async (full: BarBatch) => {
    await inFlight;
    if (failure) return;
    inFlight = commitBatch(full).catch((error: unknown) => {
      failure = error;
      failedBatch = full;
    });
  };

  try {
    let sinceYield = 0;
    let rowsRead = 0;
    for await (const row of options.provider.rows(options.signal)) {
      rowsRead += 1;
      if (failure || options.signal?.aborted) break;
      // A provider that never waits on I/O (synthetic, an already-buffered file) would run this
      // loop in microtasks only, starving the socket of the batch being COPYed: let I/O in.
      if (++sinceYield === YIELD_EVERY_ROWS) {
        sinceYield = 0;
        options.onRowsRead?.(rowsRead);
        await setImmediatePromise();
      }
      const verdict = validator.check(row);
      if ('bar' in verdict) batch.addBar(verdict.bar);
      else batch.addRejection(verdict.rejection);
      if (batch.barCount >= batchSize || batch.rejections.length >= batchSize) {
        await commitInBackground(batch);
        batch = new BarBatch(options.interval, source, runId);
      }
    }
    if (!failure && !options.signal?.aborted && !batch.isEmpty) await commitInBackground(batch);
    await inFlight;
  } catch (error) {
    // The provider itself failed (unreadable file, API down after retries).
    await inFlight;
    failure ??= error;
  }

  summary.seconds = (performance.now() - startedAt) / 1000;
  if (failure) {
    summary.status = 'failed';
    summary.error = failure instanceof Error ? failure.message : String(failure);
    await recordFailure(pool, runId, failedBatch, series, summary.error);
  } else if (options.signal?.aborted) {
    summary.status = 'cancelled';
    summary.error = 'interrupted before the end of the input';
    await ingestionRunRepository.finish(pool, runId, 'cancelled', summary.error);
  } else {
    const loadedAny = summary.inserted + summary.updated + summary.unchanged > 0;
    if (summary.rejected > 0 && !loadedAny) {
      summary.status = 'failed';
      summary.error = `every row was rejected (${summary.rejected}); see data_quality_logs for run ${runId}`;
    } else {
      summary.status = summary.rejected > 0 ? 'partial' : 'succeeded';
    }
    await ingestionRunRepository.finish(pool, runId, summary.status as Exclude<RunStatus, 'running'>, summary.error);
  }
  logRun(summary, startedAt);
  return summary;
}

/** The run's outcome in the centralized log, and its duration and rows in the performance log. */
function logRun(summary: IngestSummary, startedAt: number): void {
  const { runId, status, source, interval, read, inserted, updated, unchanged, rejected, error } = summary;
  const fields = { runId, status, source, interval, read, inserted, updated, unchanged, rejected };
  const message = `ingestion run ${runId} (${source} ${interval}) ${status}: read ${read}, inserted ${inserted}, updated ${updated}, rejected ${rejected}${error ? `: ${error}` : ''}`;
  const logger = serviceLogger('data_ingestion');
  if (status === 'failed') logger.error(fields, message);
  else if (status === 'succeeded') logger.info(fields, message);
  else logger.warn(fields, message);
  recordOperation('data_ingestion', 'ingest.bars', new Date(performance.timeOrigin + startedAt), summary.seconds * 1000, { rows: inserted + updated, details: fields });
}

/**
 * After a failed batch: the run ends as failed with the error, the batch's series record the
 * failure (their watermarks stay where the last committed batch left them), and the batch's
 * rejected rows are still logged, so a fix-and-reload knows about them.
 */
async function recordFailure(pool: pg.Pool, runId: number, failedBatch: BarBatch | undefined, series: { source: string; interval: string }, error: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await ingestionRunRepository.finish(client, runId, 'failed', error);
    if (!failedBatch) return;
    const knownSymbols = [...failedBatch.series.keys()].filter((symbol) => !failedBatch.newSymbols.has(symbol));
    if (knownSymbols.length > 0) await symbolRepository.recordFailure(client, knownSymbols, series.source, series.interval, error);
    await qualityLogRepository.insertRejections(client, runId, failedBatch.rejections);
    await ingestionRunRepository.addProgress(client, runId, { read: failedBatch.rejections.length, inserted: 0, updated: 0, unchanged: 0, rejected: failedBatch.rejections.length });
  });
}
