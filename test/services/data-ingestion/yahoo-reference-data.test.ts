import { describe, expect, it } from 'vitest';
import type { QuoteSummaryResult } from 'yahoo-finance2/modules/quoteSummary-iface';
import { referenceDataFromYahoo } from '../../../src/services/data-ingestion/providers/yahoo-reference-data.ts';

/** The shape yahoo-finance2's quoteSummary returns (dates already Date objects), trimmed to what is read. */
const summary = {
  assetProfile: { maxAge: 86400, sector: 'Technology', industry: 'Consumer Electronics', country: 'United States', website: 'https://www.example.com', longBusinessSummary: 'Makes things.', fullTimeEmployees: 161000 },
  price: { maxAge: 1, longName: 'Example Inc.', shortName: 'Example', marketCap: 3_450_000_000_000 },
  summaryDetail: { maxAge: 1, marketCap: 3_440_000_000_000, trailingPE: 35.123456789, forwardPE: 30.1, dividendRate: 1.04, dividendYield: 0.0045, beta: 1.24, fiftyTwoWeekHigh: 260.1, fiftyTwoWeekLow: 164.08, fiftyDayAverage: 230.5, twoHundredDayAverage: 210.25, averageVolume: 47_000_000, priceToSalesTrailing12Months: 8.9 },
  defaultKeyStatistics: { maxAge: 1, enterpriseValue: 3_500_000_000_000, forwardPE: 29.9, pegRatio: 2.1, priceToBook: 52.3, trailingEps: 6.08, forwardEps: 7.4, sharesOutstanding: 15_115_800_000, floatShares: 15_100_000_000, profitMargins: 0.24 },
  financialData: { maxAge: 86400, totalRevenue: 391_035_000_000, profitMargins: 0.2397 },
  institutionOwnership: {
    maxAge: 1,
    ownershipList: [
      { maxAge: 1, reportDate: new Date('2026-09-30T00:00:00Z'), organization: 'Vanguard Group Inc', pctHeld: 0.0934, position: 1_411_000_000, value: 330_000_000_000 },
      { maxAge: 1, reportDate: new Date('2026-09-30T00:00:00Z'), organization: ' ', pctHeld: 0.01, position: 5, value: 1 },
    ],
  },
} as unknown as QuoteSummaryResult;

describe('Yahoo quoteSummary → reference data', () => {
  it('maps profile, statistics and holders as exact decimal text, dropping holders without a name', () => {
    const data = referenceDataFromYahoo(summary);
    expect(data.company).toEqual({ name: 'Example Inc.', sector: 'Technology', industry: 'Consumer Electronics', country: 'United States', website: 'https://www.example.com', description: 'Makes things.', employees: 161000, marketCap: '3450000000000' });
    expect(data.statistics).toMatchObject({ marketCap: '3450000000000', peRatio: '35.123456789', forwardPe: '29.9', eps: '6.08', revenue: '391035000000', profitMargin: '0.2397', sharesOutstanding: '15115800000', dividendYield: '0.0045' });
    expect(data.holders).toEqual([{ reportDate: '2026-09-30', holder: 'Vanguard Group Inc', shares: '1411000000', value: '330000000000', pctHeld: '0.0934' }]);
  });

  it('gives nulls for modules Yahoo did not send', () => {
    expect(referenceDataFromYahoo({} as QuoteSummaryResult)).toEqual({ company: null, statistics: null, holders: [] });
  });
});
