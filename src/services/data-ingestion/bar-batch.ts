import { copyField } from '../../db/copy-stream.ts';
import type { Rejection, ValidBar } from './bar-validator.ts';

/** The columns a batch's COPY lines hold, in order. */
export const MARKET_DATA_COPY_COLUMNS =
  'symbol, interval, ts, open, high, low, close, volume, vwap, trade_count, source, ingestion_run_id';

/** What a batch holds of one symbol: enough to choose the load path and move its watermark. */
export interface SeriesExtent {
  count: number;
  minMs: number;
  maxMs: number;
}

/**
 * Lines are joined into one flat string per this many bars: appending to one growing string
 * would build a deep rope that the garbage collector walks again and again.
 */
const LINES_PER_CHUNK = 2048;

/**
 * One batch of a run: its valid bars already rendered as COPY text (so the batch costs its
 * text, not an object per bar), what it holds per symbol, and its rejected rows.
 */
export class BarBatch {
  readonly chunks: string[] = [];
  readonly series = new Map<string, SeriesExtent>();
  readonly rejections: Rejection[] = [];
  /** Symbols this batch must create first (--create-symbols). */
  readonly newSymbols = new Set<string>();
  barCount = 0;
  rowsRead = 0;
  /** UTC months (first day, epoch ms) the bars fall in: the partitions they need. */
  readonly months = new Set<number>();
  private current: string[] = [];
  private monthStart = 0;
  private monthEnd = -1;
  private readonly lineSuffix: string;

  constructor(private readonly interval: string, source: string, runId: number) {
    this.lineSuffix = `\t${copyField(source)}\t${runId}\n`;
  }

  addBar(bar: ValidBar): void {
    this.rowsRead += 1;
    this.barCount += 1;
    this.current.push(`${bar.symbol}\t${this.interval}\t${bar.tsText}\t${bar.open}\t${bar.high}\t${bar.low}\t${bar.close}\t${bar.volume}\t${bar.vwap ?? '\\N'}\t${bar.tradeCount ?? '\\N'}${this.lineSuffix}`);
    if (this.current.length >= LINES_PER_CHUNK) this.cutChunk();
    const extent = this.series.get(bar.symbol);
    if (extent) {
      extent.count += 1;
      if (bar.ms < extent.minMs) extent.minMs = bar.ms;
      if (bar.ms > extent.maxMs) extent.maxMs = bar.ms;
    } else {
      this.series.set(bar.symbol, { count: 1, minMs: bar.ms, maxMs: bar.ms });
    }
    // Bars mostly arrive month by month: recompute the month only when it changes.
    if (bar.ms < this.monthStart || bar.ms > this.monthEnd) this.enterMonth(bar.ms);
  }

  private enterMonth(ms: number): void {
    const date = new Date(ms);
    this.monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
    this.monthEnd = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - 1;
    this.months.add(this.monthStart);
  }

  addRejection(rejection: Rejection): void {
    this.rowsRead += 1;
    this.rejections.push(rejection);
  }

  /** The COPY text of every bar, in chunks. */
  copyChunks(): string[] {
    this.cutChunk();
    return this.chunks;
  }

  /** First and last bar start of the whole batch. */
  timeRange(): { minMs: number; maxMs: number } {
    let minMs = Number.POSITIVE_INFINITY;
    let maxMs = Number.NEGATIVE_INFINITY;
    for (const extent of this.series.values()) {
      minMs = Math.min(minMs, extent.minMs);
      maxMs = Math.max(maxMs, extent.maxMs);
    }
    return { minMs, maxMs };
  }

  get isEmpty(): boolean {
    return this.rowsRead === 0;
  }

  private cutChunk(): void {
    if (this.current.length === 0) return;
    this.chunks.push(this.current.join(''));
    this.current = [];
  }
}
