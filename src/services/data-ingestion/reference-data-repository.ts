import type { Queryable } from '../../db/queryable.ts';
import type { CompanyProfile } from './reference-data.ts';

/** Key statistics of one day; amounts and ratios as exact decimal text without trailing zeros, absent ones null. */
export interface KeyStatisticsRow {
  symbol: string;
  asOf: string;
  marketCap: string | null;
  peRatio: string | null;
  forwardPe: string | null;
  eps: string | null;
  dividendYield: string | null;
  beta: string | null;
  fiftyTwoWeekHigh: string | null;
  fiftyTwoWeekLow: string | null;
  averageVolume: string | null;
  sharesOutstanding: string | null;
  ingestionRunId: number | null;
}

/** A stored profile with the ingestion run that wrote it last. */
export interface CompanyProfileRow extends CompanyProfile {
  symbol: string;
  ingestionRunId: number | null;
  updatedAt: Date;
}

export interface HolderRow {
  symbol: string;
  reportDate: string;
  holder: string;
  shares: string;
  value: string | null;
  pctHeld: string | null;
  ingestionRunId: number | null;
}

const KEY_STATISTICS_COLUMNS = `symbol, as_of::text AS "asOf", trim_scale(market_cap)::text AS "marketCap", trim_scale(pe_ratio)::text AS "peRatio",
  trim_scale(forward_pe)::text AS "forwardPe", trim_scale(eps)::text AS eps, trim_scale(dividend_yield)::text AS "dividendYield", trim_scale(beta)::text AS beta,
  trim_scale(fifty_two_week_high)::text AS "fiftyTwoWeekHigh", trim_scale(fifty_two_week_low)::text AS "fiftyTwoWeekLow",
  trim_scale(average_volume)::text AS "averageVolume", trim_scale(shares_outstanding)::text AS "sharesOutstanding",
  ingestion_run_id::float8 AS "ingestionRunId"`;

/** Lookups of company profiles, key statistics and institutional holders (written by the reference-data flows). */
export const referenceDataRepository = {
  async companyProfile(db: Queryable, symbol: string): Promise<CompanyProfileRow | undefined> {
    const { rows } = await db.query<CompanyProfileRow>(
      `SELECT symbol, name, sector, industry, country, website, description, employees, trim_scale(market_cap)::text AS "marketCap",
              ingestion_run_id::float8 AS "ingestionRunId", updated_at AS "updatedAt"
         FROM data_ingestion.company_info WHERE symbol = $1`,
      [symbol],
    );
    return rows[0];
  },

  /** The snapshot of `asOf`, or the latest one on or before it (default: the latest of all). */
  async keyStatistics(db: Queryable, symbol: string, asOf?: string): Promise<KeyStatisticsRow | undefined> {
    const { rows } = await db.query<KeyStatisticsRow>(
      `SELECT ${KEY_STATISTICS_COLUMNS} FROM data_ingestion.key_statistics
        WHERE symbol = $1 AND ($2::date IS NULL OR as_of <= $2) ORDER BY as_of DESC LIMIT 1`,
      [symbol, asOf ?? null],
    );
    return rows[0];
  },

  /** Holders of the latest report on or before `reportDate` (default: the latest report), largest first. */
  async institutionalHolders(db: Queryable, symbol: string, reportDate?: string): Promise<HolderRow[]> {
    const { rows } = await db.query<HolderRow>(
      `SELECT symbol, report_date::text AS "reportDate", holder, trim_scale(shares)::text AS shares, trim_scale(value)::text AS value,
              trim_scale(pct_held)::text AS "pctHeld", ingestion_run_id::float8 AS "ingestionRunId"
         FROM data_ingestion.institutional_holders h
        WHERE symbol = $1
          AND report_date = (SELECT max(report_date) FROM data_ingestion.institutional_holders
                              WHERE symbol = $1 AND ($2::date IS NULL OR report_date <= $2))
        -- h.shares: the bare name would sort by the text output column.
        ORDER BY h.shares DESC, holder`,
      [symbol, reportDate ?? null],
    );
    return rows;
  },
};
