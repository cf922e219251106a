/**
 * Building InputRows from API answers, shared by the API providers: numbers into plain decimals,
 * instants into UTC timestamps or exchange-local calendar dates, and the problems an API provider
 * reports as rows (so that the pipeline counts and logs them in data_quality_logs).
 */
import type { InputRow } from '../input-row.ts';
import { withoutExponent } from '../../../shared/decimal-text.ts';

/** Rules of the problem rows API providers yield, with what each means. */
export const PROVIDER_RULES = {
  provider_error: 'a request for a symbol failed (unknown symbol, range refused, retries exhausted, unreadable answer)',
  provider_null_bar: 'the API lists the bar without any price: a hole in its series',
  provider_no_data: 'the whole range brought no bar and no error for the symbol',
} as const;
export type ProviderRule = keyof typeof PROVIDER_RULES;

/** A row that reports `rule` instead of a bar; `record` (what was asked or received) becomes its raw JSON. */
export function problemRow(line: number, record: unknown, rule: ProviderRule, detail: string): InputRow {
  return { line, raw: JSON.stringify(record), problem: { rule, detail } };
}

/** The message of a caught error, for a problem detail. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The shortest decimal text that reads back as exactly `value`, never in exponent notation:
 * 1e-7 → "0.0000001", 1.5e21 → "1500000000000000000000", -0 → "0".
 *
 * JSON numbers reach us as doubles; for any JSON text of at most 15 significant digits (every
 * realistic price and volume) this returns the same digits the API wrote, minus trailing zeros
 * ("1.10" → "1.1"). Throws a RangeError for NaN and ±Infinity, which JSON cannot carry.
 */
export function plainDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`${value} is not a finite number`);
  if (Object.is(value, -0)) return '0';
  return withoutExponent(String(value));
}

/** The UTC instant of `epochMs` as "2024-01-02T14:30:00Z" (milliseconds only when not zero). */
export function utcTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('.000Z', 'Z');
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * The calendar date "YYYY-MM-DD" that the instant `epochMs` falls on in the IANA time zone
 * `timeZone` (e.g. "America/New_York", "Asia/Tokyo"). Daily bars of APIs are stamped with an
 * instant inside their trading day (the open, or local midnight expressed in UTC); the UTC date of
 * that instant is a different day east of Greenwich (Sydney's 2024-01-04 opens 2024-01-03T23:00Z),
 * so the local date is the bar's date. Throws a RangeError for an unknown time zone.
 */
export function exchangeLocalDate(epochMs: number, timeZone: string): string {
  // Intl would quietly take the machine's own zone for an empty one.
  if (!timeZone) throw new RangeError('no exchange time zone was given');
  let format = dateFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(epochMs)).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
