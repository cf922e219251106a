import type pg from 'pg';
import { ingestBars, type IngestSummary } from './ingest-pipeline.ts';
import { SyntheticProvider } from './providers/synthetic-provider.ts';
import { symbolRepository } from './symbol-repository.ts';

/** Fictional tickers, named so that nobody mistakes the demo series for market data. */
export const DEMO_SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'WAYNE', 'STARK'] as const;
export const DEMO_SOURCE = 'demo';

/**
 * Loads a small synthetic data set when market_data is empty, so that a new user sees bars at
 * once: about three years of daily bars and the last day of 1-minute bars for six fictional
 * symbols (source "demo"). Does nothing when any bar exists. Returns the runs it made.
 */
export async function loadDemoDataIfEmpty(pool: pg.Pool): Promise<IngestSummary[]> {
  const { rows } = await pool.query('SELECT 1 FROM data_ingestion.market_data LIMIT 1');
  if (rows.length > 0) return [];
  for (const symbol of DEMO_SYMBOLS) {
    await symbolRepository.insert(pool, { symbol, name: `${symbol[0]}${symbol.slice(1).toLowerCase()} (synthetic demo series, not market data)`, exchange: 'DEMO' });
  }
  const runs: IngestSummary[] = [];
  for (const [interval, bars] of [['1d', 750], ['1m', 1440]] as const) {
    runs.push(
      await ingestBars(pool, {
        provider: new SyntheticProvider({ symbols: [...DEMO_SYMBOLS], interval, bars, seed: 2024 }),
        interval,
        source: DEMO_SOURCE,
        parameters: { demo: true },
      }),
    );
  }
  return runs;
}
