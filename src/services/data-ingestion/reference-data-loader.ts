import type pg from 'pg';
import { withTransaction } from '../../db/transaction.ts';
import { ingestionRunRepository } from './ingestion-run-repository.ts';
import { KEY_STATISTIC_COLUMNS, type KeyStatistic, type ReferenceData } from './reference-data.ts';

export interface StoredReferenceData {
  runId: number;
  company: boolean;
  statistics: boolean;
  holders: number;
}

/**
 * Stores a symbol's company profile (replacing the previous one), its key statistics of `asOf`
 * (replacing a snapshot of the same day) and its holders report (replacing that report's rows),
 * in one transaction with the ingestion run every row points to: all of it or none of it.
 */
export async function storeReferenceData(pool: pg.Pool, symbol: string, data: ReferenceData, options: { source: string; asOf: string; parameters?: Record<string, unknown> }): Promise<StoredReferenceData> {
  return withTransaction(pool, async (client) => {
    const runId = await ingestionRunRepository.start(client, { source: options.source, interval: null, parameters: { kind: 'reference-data', symbol, asOf: options.asOf, ...options.parameters } });
    if (data.company) {
      const company = data.company;
      await client.query(
        `INSERT INTO data_ingestion.company_info (symbol, name, sector, industry, country, website, description, employees, market_cap, ingestion_run_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (symbol) DO UPDATE SET name = EXCLUDED.name, sector = EXCLUDED.sector, industry = EXCLUDED.industry, country = EXCLUDED.country,
           website = EXCLUDED.website, description = EXCLUDED.description, employees = EXCLUDED.employees, market_cap = EXCLUDED.market_cap,
           ingestion_run_id = EXCLUDED.ingestion_run_id`,
        [symbol, company.name, company.sector, company.industry, company.country, company.website, company.description, company.employees, company.marketCap, runId],
      );
    }
    if (data.statistics) {
      const names = Object.keys(KEY_STATISTIC_COLUMNS) as KeyStatistic[];
      const columns = names.map((name) => KEY_STATISTIC_COLUMNS[name]);
      await client.query(
        `INSERT INTO data_ingestion.key_statistics (symbol, as_of, ingestion_run_id, ${columns.join(', ')})
         VALUES ($1, $2, $3, ${columns.map((_, index) => `$${index + 4}`).join(', ')})
         ON CONFLICT (symbol, as_of) DO UPDATE SET ingestion_run_id = EXCLUDED.ingestion_run_id, ${columns.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`,
        [symbol, options.asOf, runId, ...names.map((name) => data.statistics![name])],
      );
    }
    for (const reportDate of new Set(data.holders.map((holder) => holder.reportDate))) {
      await client.query('DELETE FROM data_ingestion.institutional_holders WHERE symbol = $1 AND report_date = $2', [symbol, reportDate]);
    }
    if (data.holders.length > 0) {
      await client.query(
        `INSERT INTO data_ingestion.institutional_holders (symbol, report_date, holder, shares, value, pct_held, ingestion_run_id)
         SELECT $1, h.report_date, h.holder, h.shares, h.value, h.pct_held, $2
           FROM jsonb_to_recordset($3::jsonb) AS h (report_date date, holder text, shares numeric, value numeric, pct_held numeric)`,
        [symbol, runId, JSON.stringify(data.holders.map((holder) => ({ report_date: holder.reportDate, holder: holder.holder, shares: holder.shares, value: holder.value, pct_held: holder.pctHeld })))],
      );
    }
    await ingestionRunRepository.finish(client, runId, 'succeeded', null);
    return { runId, company: data.company !== null, statistics: data.statistics !== null, holders: data.holders.length };
  });
}
