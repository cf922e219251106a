/** A company's profile, the market cap as exact decimal text; absent values null. */
export interface CompanyProfile {
  name: string | null;
  sector: string | null;
  industry: string | null;
  country: string | null;
  website: string | null;
  description: string | null;
  employees: number | null;
  marketCap: string | null;
}

/** A symbol's reference data from a provider, amounts as exact decimal text; absent values null. */
export interface ReferenceData {
  company: CompanyProfile | null;
  /** A snapshot of the provider's key statistics, stored under the day it was taken. */
  statistics: Record<KeyStatistic, string | null> | null;
  /** The latest report of institutional holders. */
  holders: Array<{ reportDate: string; holder: string; shares: string; value: string | null; pctHeld: string | null }>;
}

/** Columns of data_ingestion.key_statistics besides symbol and day, by their name in TypeScript. */
export const KEY_STATISTIC_COLUMNS = {
  marketCap: 'market_cap',
  enterpriseValue: 'enterprise_value',
  peRatio: 'pe_ratio',
  forwardPe: 'forward_pe',
  pegRatio: 'peg_ratio',
  priceToBook: 'price_to_book',
  priceToSales: 'price_to_sales',
  eps: 'eps',
  forwardEps: 'forward_eps',
  revenue: 'revenue',
  profitMargin: 'profit_margin',
  dividendRate: 'dividend_rate',
  dividendYield: 'dividend_yield',
  beta: 'beta',
  fiftyTwoWeekHigh: 'fifty_two_week_high',
  fiftyTwoWeekLow: 'fifty_two_week_low',
  fiftyDayAverage: 'fifty_day_average',
  twoHundredDayAverage: 'two_hundred_day_average',
  averageVolume: 'average_volume',
  sharesOutstanding: 'shares_outstanding',
  floatShares: 'float_shares',
} as const;

export type KeyStatistic = keyof typeof KEY_STATISTIC_COLUMNS;
