import type { QuoteSummaryResult } from 'yahoo-finance2/modules/quoteSummary-iface';
import type { ReferenceData } from '../reference-data.ts';
import { plainDecimal } from './api-rows.ts';

/** The quoteSummary modules reference data is read from. */
export const YAHOO_REFERENCE_MODULES = ['assetProfile', 'price', 'summaryDetail', 'defaultKeyStatistics', 'financialData', 'institutionOwnership'] as const;

const decimal = (value: unknown): string | null => (typeof value === 'number' && Number.isFinite(value) ? plainDecimal(value) : null);
const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
const isoDay = (value: unknown): string | null => (value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString().slice(0, 10) : null);

/** Maps Yahoo's quoteSummary to tradedb's reference data (modules absent from the answer give nulls). */
export function referenceDataFromYahoo(summary: QuoteSummaryResult): ReferenceData {
  const profile = summary.assetProfile;
  const price = summary.price;
  const detail = summary.summaryDetail;
  const stats = summary.defaultKeyStatistics;
  const financial = summary.financialData;
  const marketCap = decimal(price?.marketCap ?? detail?.marketCap);
  return {
    company: profile || price
      ? {
          name: text(price?.longName ?? price?.shortName),
          sector: text(profile?.sector),
          industry: text(profile?.industry),
          country: text(profile?.country),
          website: text(profile?.website),
          description: text(profile?.longBusinessSummary),
          employees: typeof profile?.fullTimeEmployees === 'number' ? profile.fullTimeEmployees : null,
          marketCap,
        }
      : null,
    statistics: detail || stats || financial
      ? {
          marketCap,
          enterpriseValue: decimal(stats?.enterpriseValue),
          peRatio: decimal(detail?.trailingPE),
          forwardPe: decimal(stats?.forwardPE ?? detail?.forwardPE),
          pegRatio: decimal(stats?.pegRatio),
          priceToBook: decimal(stats?.priceToBook),
          priceToSales: decimal(detail?.priceToSalesTrailing12Months),
          eps: decimal(stats?.trailingEps),
          forwardEps: decimal(stats?.forwardEps),
          revenue: decimal(financial?.totalRevenue),
          profitMargin: decimal(financial?.profitMargins ?? stats?.profitMargins),
          dividendRate: decimal(detail?.dividendRate),
          dividendYield: decimal(detail?.dividendYield),
          beta: decimal(detail?.beta ?? stats?.beta),
          fiftyTwoWeekHigh: decimal(detail?.fiftyTwoWeekHigh),
          fiftyTwoWeekLow: decimal(detail?.fiftyTwoWeekLow),
          fiftyDayAverage: decimal(detail?.fiftyDayAverage),
          twoHundredDayAverage: decimal(detail?.twoHundredDayAverage),
          averageVolume: decimal(detail?.averageVolume),
          sharesOutstanding: decimal(stats?.sharesOutstanding),
          floatShares: decimal(stats?.floatShares),
        }
      : null,
    holders: (summary.institutionOwnership?.ownershipList ?? []).flatMap((entry) => {
      const reportDate = isoDay(entry.reportDate);
      const holder = text(entry.organization);
      const shares = decimal(entry.position);
      // Yahoo gives pctHeld as a fraction (0.0712 = 7.12 %), which is what pct_held stores.
      return reportDate && holder && shares ? [{ reportDate, holder, shares, value: decimal(entry.value), pctHeld: decimal(entry.pctHeld) }] : [];
    }),
  };
}

/** Fetches and maps one symbol's reference data from Yahoo Finance (needs internet). */
export async function fetchYahooReferenceData(symbol: string): Promise<ReferenceData> {
  // The chart provider's client: the same screening of failed HTTP answers and the same logging.
  const { createYahooClient, defaultLibraryLog } = await import('./yahoo-provider.ts');
  const yahoo = createYahooClient(globalThis.fetch, defaultLibraryLog);
  return referenceDataFromYahoo(await yahoo.quoteSummary(symbol, { modules: [...YAHOO_REFERENCE_MODULES] }));
}
