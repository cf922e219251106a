import { InvalidArgumentError } from 'commander';
import { isCalendarDate } from '../services/data-ingestion/bar-timestamp.ts';
import { INTERVALS, type Interval, isInterval } from '../services/data-ingestion/interval.ts';

/** Commander parsers that turn option text into typed values or say what is expected. */

export function parseInterval(value: string): Interval {
  if (!isInterval(value)) throw new InvalidArgumentError(`expected one of ${INTERVALS.join(', ')}`);
  return value;
}

export function parseWholeNumber(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number above 0');
  return number;
}

/** A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 instant with its offset. */
export function parseInstant(value: string): Date {
  const isDate = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const ms = isDate ? (isCalendarDate(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN) : /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected a date YYYY-MM-DD or an ISO 8601 time with its offset, e.g. 2024-01-02T14:30:00Z');
  return new Date(ms);
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** How far back: a duration before now (90s, 15m, 2h, 7d) or, as parseInstant, a date or an instant. */
export function parseSince(value: string): Date {
  const duration = /^(\d+)([smhd])$/.exec(value.trim());
  if (duration) return new Date(Date.now() - Number(duration[1]) * DURATION_UNITS_MS[duration[2]!]!);
  try {
    return parseInstant(value);
  } catch {
    throw new InvalidArgumentError('expected a duration before now (90s, 15m, 2h, 7d), a date YYYY-MM-DD or an ISO 8601 time with its offset');
  }
}

/** "orders, trades" -> ["orders", "trades"] */
export function parseList(value: string): string[] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected a list separated by commas');
  return items;
}

/** "AAPL, msft" -> ["AAPL", "MSFT"] */
export function parseSymbolList(value: string): string[] {
  const symbols = value.split(',').map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol !== '');
  if (symbols.length === 0) throw new InvalidArgumentError('expected symbols separated by commas, e.g. AAPL,MSFT');
  return symbols;
}

/** "timestamp=Date,symbol=Ticker" -> { timestamp: "Date", symbol: "Ticker" } */
export function parseColumnMap(value: string): Record<string, string> {
  const entries = value.split(',').map((pair) => pair.split('='));
  if (entries.some((pair) => pair.length !== 2 || pair[0]!.trim() === '' || pair[1]!.trim() === '')) {
    throw new InvalidArgumentError('expected FIELD=HEADER pairs separated by commas, e.g. timestamp=Date,symbol=Ticker');
  }
  return Object.fromEntries(entries.map(([field, header]) => [field!.trim(), header!.trim()]));
}

/** A calendar date "YYYY-MM-DD", kept as text. */
export function parseCalendarDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !isCalendarDate(value)) throw new InvalidArgumentError('expected a date YYYY-MM-DD');
  return value;
}

/** JSON text, parsed; the error quotes the parser's complaint. */
export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`not JSON: ${(error as Error).message}`);
  }
}
