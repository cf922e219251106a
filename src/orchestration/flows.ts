import { z } from 'zod';
import { createOwnerPool } from '../db/owner-pool.ts';
import { takeBackup } from '../ops/backup-service.ts';
import { runMaintenance } from '../ops/maintenance.ts';
import { PortfolioAnalytics } from '../services/analytics/portfolio-analytics.ts';
import { ingestBars } from '../services/data-ingestion/ingest-pipeline.ts';
import { SymbolService } from '../services/data-ingestion/symbol-service.ts';
import { StrategyPerformance } from '../services/strategy-engine/strategy-performance.ts';
import { AccountService } from '../services/shared/account-service.ts';
import type { BarSource, FlowContext, FlowDefinition, ReferenceSource } from './flow-definition.ts';
import { storeReferenceData } from '../services/data-ingestion/reference-data-loader.ts';
import { textList } from './flow-parameters.ts';

const DAY_MS = 86_400_000;
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');

/** Bar sources the daily ingestion can use by name; tests and users may add their own. */
export const DEFAULT_BAR_SOURCES: Record<string, BarSource> = {
  yahoo: async ({ symbols, from, to }) => {
    const { YahooProvider } = await import('../services/data-ingestion/providers/yahoo-provider.ts');
    return new YahooProvider({ symbols, interval: '1d', from, to });
  },
  alpaca: async ({ symbols, from, to }) => {
    const { AlpacaProvider } = await import('../services/data-ingestion/providers/alpaca-provider.ts');
    return new AlpacaProvider({ symbols, interval: '1d', from, to });
  },
};

/** Every active symbol (SymbolService), for the flows that work symbol by symbol. */
async function activeSymbols(context: FlowContext): Promise<string[]> {
  return (await new SymbolService(context.pools.services.data_ingestion).listActive()).map((row) => row.symbol);
}

/** Reference-data sources by name. */
export const DEFAULT_REFERENCE_SOURCES: Record<string, ReferenceSource> = {
  yahoo: async (symbol) => (await import('../services/data-ingestion/providers/yahoo-reference-data.ts')).fetchYahooReferenceData(symbol),
};

const dailyIngestion: FlowDefinition<{ source: string; lookbackDays: number; symbols?: string[] | undefined }> = {
  name: 'daily-ingestion',
  description: 'daily bars of every active symbol, one task per symbol (a symbol that fails does not fail the others); re-loading a day changes nothing',
  cron: '15 22 * * 1-5',
  backfillHours: 72,
  maxAttempts: 3,
  parameters: z.object({
    source: z.string().default('yahoo'),
    lookbackDays: z.coerce.number().int().min(1).max(366).default(5),
    symbols: textList.optional(),
  }).strict(),
  async run(context, parameters) {
    const source = context.barSources[parameters.source];
    if (!source) throw new Error(`source: unknown bar source ${JSON.stringify(parameters.source)} (known: ${Object.keys(context.barSources).join(', ')})`);
    const symbols = parameters.symbols ?? (await activeSymbols(context));
    const to = context.runFor;
    const from = new Date(to.getTime() - parameters.lookbackDays * DAY_MS);
    const failed: string[] = [];
    let inserted = 0;
    for (const symbol of symbols) {
      const outcome = await context.task(`ingest ${symbol}`, { symbol, source: parameters.source, from: from.toISOString(), to: to.toISOString() }, async () => {
        const summary = await ingestBars(context.pools.services.data_ingestion, { provider: await source({ symbols: [symbol], from, to }), interval: '1d', parameters: { flowRunId: context.flowRunId } });
        if (summary.status === 'failed') throw new Error(summary.error ?? `ingestion run ${summary.runId} failed`);
        return { runId: summary.runId, read: summary.read, inserted: summary.inserted, rejected: summary.rejected };
      });
      if ('error' in outcome) failed.push(symbol);
      else inserted += outcome.result.inserted;
    }
    return { symbols: symbols.length, succeeded: symbols.length - failed.length, failed, inserted };
  },
};

const weeklyReferenceData: FlowDefinition<{ source: string; symbols?: string[] | undefined }> = {
  name: 'weekly-reference-data',
  description: 'company info, key statistics and institutional holders of every active symbol, one task per symbol, each stored with its ingestion run',
  cron: '0 6 * * 6',
  backfillHours: 48,
  maxAttempts: 3,
  parameters: z.object({ source: z.string().default('yahoo'), symbols: textList.optional() }).strict(),
  async run(context, parameters) {
    const source = context.referenceSources[parameters.source];
    if (!source) throw new Error(`source: unknown reference-data source ${JSON.stringify(parameters.source)} (known: ${Object.keys(context.referenceSources).join(', ')})`);
    const symbols = parameters.symbols ?? (await activeSymbols(context));
    const asOf = context.runFor.toISOString().slice(0, 10);
    const failed: string[] = [];
    for (const symbol of symbols) {
      const outcome = await context.task(`reference data ${symbol}`, { symbol, source: parameters.source, asOf }, async () =>
        storeReferenceData(context.pools.services.data_ingestion, symbol, await source(symbol), { source: parameters.source, asOf, parameters: { flowRunId: context.flowRunId } }),
      );
      if ('error' in outcome) failed.push(symbol);
    }
    return { symbols: symbols.length, succeeded: symbols.length - failed.length, failed, asOf };
  },
};

const weeklyBackup: FlowDefinition<{ schemas?: string[] | undefined; all?: boolean | undefined }> = {
  name: 'weekly-backup',
  description: 'tradedb backup of the key schemas (data_ingestion, analytics and what they depend on), retention applied',
  cron: '0 4 * * 0',
  backfillHours: 24,
  maxAttempts: 2,
  parameters: z.object({ schemas: textList.optional(), all: z.boolean().optional() }).strict(),
  async run(context, parameters) {
    const taken = await context.task('backup', parameters, () =>
      takeBackup(context.database, context.settings.backup, context.pools.orchestration, { schemas: parameters.schemas, all: parameters.all, flowRunId: context.flowRunId, events: context.pools.services.logging }),
    );
    if ('error' in taken) throw new Error(taken.error);
    return { files: taken.result.manifests.map((manifest) => manifest.file), rows: taken.result.manifests.reduce((sum, manifest) => sum + manifest.totalRows, 0), pruned: taken.result.pruned.length };
  },
};

const nightlyMaintenance: FlowDefinition<{ monthsAhead: number }> = {
  name: 'nightly-maintenance',
  description: 'partitions ahead, log retention, stale runs closed, ANALYZE where stale, pg_stat_statements snapshot, bloat and unused-index report (tradedb maintenance)',
  cron: '30 3 * * *',
  backfillHours: 24,
  maxAttempts: 3,
  parameters: z.object({ monthsAhead: z.coerce.number().int().min(1).max(24).default(3) }).strict(),
  async run(context, parameters) {
    // Partitions, retention and ANALYZE belong to the tables' owner, not to any service role.
    const owner = createOwnerPool(context.database);
    try {
      const report = await context.task('maintenance', parameters, () => runMaintenance(owner, { ...context.settings.maintenance, monthsAhead: parameters.monthsAhead }));
      if ('error' in report) throw new Error(report.error);
      return report.result;
    } finally {
      await owner.end();
    }
  },
};

const endOfDayAnalytics: FlowDefinition<{ day?: string | undefined }> = {
  name: 'end-of-day-analytics',
  description: "each strategy's daily performance and each account's portfolio summary at the day's end (UTC) with its daily performance metrics; recomputing a day gives the same rows (and the rows live analytics kept)",
  cron: '30 22 * * 1-5',
  backfillHours: 72,
  maxAttempts: 3,
  parameters: z.object({ day: isoDate.optional() }).strict(),
  async run(context, parameters) {
    const day = parameters.day ?? context.runFor.toISOString().slice(0, 10);
    const endOfDay = new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
    const strategies = await context.task('strategy performance', { day }, () => new StrategyPerformance(context.pools.services.strategy_engine).record(day));
    const owner = createOwnerPool(context.database);
    let accounts: string[];
    try {
      accounts = (await new AccountService(owner).list()).filter((account) => account.status === 'active').map((account) => account.accountId);
    } finally {
      await owner.end();
    }
    const analytics = new PortfolioAnalytics(context.pools.services.analytics);
    const failed: string[] = [];
    for (const accountId of accounts) {
      const outcome = await context.task(`portfolio summary ${accountId}`, { accountId, asOf: endOfDay.toISOString() }, () => analytics.closeDay(accountId, day));
      if ('error' in outcome) failed.push(accountId);
    }
    return { day, strategies: 'result' in strategies ? strategies.result : null, accounts: accounts.length, failed };
  },
};

/** Every flow the worker runs, by name. */
export const FLOWS: FlowDefinition<any>[] = [dailyIngestion, weeklyReferenceData, weeklyBackup, nightlyMaintenance, endOfDayAnalytics];
