import cliProgress from 'cli-progress';
import type { IngestSummary } from '../services/data-ingestion/ingest-pipeline.ts';

/** What the ingest commands show while they run: a bar on a terminal, nothing otherwise. */
export interface IngestProgress {
  rowsRead(count: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr with rows read, rows/s and, when the total is known, the share done.
 * Off when stderr is not a terminal (CI, pipes) or when JSON output was asked for.
 */
export function startIngestProgress(options: { enabled: boolean; total?: number }): IngestProgress {
  if (!options.enabled || !process.stderr.isTTY) return { rowsRead: () => undefined, stop: () => undefined };
  const started = performance.now();
  const format = options.total
    ? 'ingest [{bar}] {percentage}% {value}/{total} rows, {rate} rows/s, {duration_formatted}'
    : 'ingest {value} rows, {rate} rows/s, {duration_formatted}';
  // A short bar, so the line fits an 80-column terminal with a seven-digit total.
  const bar = new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, barsize: 20 }, cliProgress.Presets.shades_classic);
  bar.start(options.total ?? 0, 0, { rate: 0 });
  return {
    rowsRead(count) {
      const seconds = (performance.now() - started) / 1000;
      bar.update(count, { rate: seconds > 0 ? Math.round(count / seconds).toLocaleString('en-US') : 0 });
    },
    stop: () => bar.stop(),
  };
}

/** The summary printed at the end of an ingest, for people. */
export function formatIngestSummary(summary: IngestSummary): string {
  const rate = summary.seconds > 0 ? Math.round(summary.read / summary.seconds).toLocaleString('en-US') : '-';
  const lines = [
    `run ${summary.runId} ${summary.status} in ${summary.seconds.toFixed(2)} s (${rate} rows/s): ` +
      `read ${summary.read}, inserted ${summary.inserted}, updated ${summary.updated}, unchanged ${summary.unchanged}, rejected ${summary.rejected}`,
  ];
  if (summary.createdSymbols.length > 0) lines.push(`created symbols: ${summary.createdSymbols.join(', ')}`);
  if (summary.rejected > 0) {
    const byRule = Object.entries(summary.rejectedByRule)
      .sort((a, b) => b[1] - a[1])
      .map(([rule, count]) => `${rule} ${count}`)
      .join(', ');
    lines.push(`rejected by rule: ${byRule}; each row with its line is in data_quality_logs: tradedb quality --run ${summary.runId}`);
  }
  if (summary.error) lines.push(`error: ${summary.error}`);
  return lines.join('\n');
}
