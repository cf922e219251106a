import { type Interval, isDailyOrLonger } from './interval.ts';

/**
 * Reading bar timestamps. An instant needs its offset: "2024-01-02 09:30" without one could be
 * New York or UTC, and guessing wrong shifts every bar by hours, so it is refused. Daily and
 * longer bars may be plain dates; a date is the bar of that calendar day, stored at UTC midnight.
 */
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** The form most feeds (and toISOString) write; checked first because it is nearly every row. */
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{3})?Z$/;

/** `ms`: epoch milliseconds (UTC); `text`: the same instant as ISO 8601 UTC, for COPY. */
export type TimestampResult =
  | { ms: number; text: string }
  | { problem: string; rule: 'timestamp_format' | 'timestamp_timezone' | 'timestamp_alignment' };

/** Parses the timestamp field of a bar of `interval` into an instant (UTC). */
export function parseBarTimestamp(text: string, interval: Interval): TimestampResult {
  if (!isDailyOrLonger(interval) && CANONICAL_UTC.test(text)) {
    const ms = Date.parse(text);
    // Date.parse rolls 2024-02-30 over to March 1st: the day must survive the round trip.
    if (new Date(ms).getUTCDate() === Number(text.slice(8, 10))) return { ms, text };
  }
  const parsed = parseGeneralTimestamp(text, interval);
  return 'ms' in parsed ? { ms: parsed.ms, text: new Date(parsed.ms).toISOString() } : parsed;
}

function parseGeneralTimestamp(text: string, interval: Interval): { ms: number } | Exclude<TimestampResult, { ms: number }> {
  const match = ISO_TIMESTAMP.exec(text.trim());
  if (!match) {
    return {
      rule: 'timestamp_format',
      problem: `timestamp ${JSON.stringify(text)} is not ISO 8601 (e.g. 2024-01-02T14:30:00Z, 2024-01-02T09:30:00-05:00, or 2024-01-02 for daily bars)`,
    };
  }
  const [, year, month, day, hour, minute, second, fraction, offset] = match;
  const dateMs = Date.UTC(Number(year), Number(month) - 1, Number(day));
  const date = new Date(dateMs);
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) {
    return { rule: 'timestamp_format', problem: `timestamp ${JSON.stringify(text)} is not a real calendar date` };
  }
  if (hour === undefined) {
    if (!isDailyOrLonger(interval)) {
      return {
        rule: 'timestamp_format',
        problem: `timestamp ${JSON.stringify(text)} is a date without a time; ${interval} bars need a time with its offset`,
      };
    }
    return { ms: dateMs };
  }
  if (offset === undefined) {
    return {
      rule: 'timestamp_timezone',
      problem: `timestamp ${JSON.stringify(text)} has no UTC offset; write Z or the exchange's offset (e.g. -05:00), local times are never taken as UTC`,
    };
  }
  const h = Number(hour);
  const m = Number(minute);
  const s = Number(second ?? '0');
  if (h > 23 || m > 59 || s > 59) {
    return { rule: 'timestamp_format', problem: `timestamp ${JSON.stringify(text)} has an impossible time of day` };
  }
  const fractionMs = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  // Daily and longer bars written as a local midnight ("2024-01-02T00:00:00-05:00") are that
  // day's bar: the written date is the trading day, whatever the offset.
  if (isDailyOrLonger(interval)) {
    if (h !== 0 || m !== 0 || s !== 0 || fractionMs !== 0) {
      return {
        rule: 'timestamp_alignment',
        problem: `timestamp ${JSON.stringify(text)} is not the start of a ${interval} bar (daily and longer bars are dates, or local midnights)`,
      };
    }
    return { ms: dateMs };
  }
  const local = dateMs + ((h * 60 + m) * 60 + s) * 1000 + fractionMs;
  return { ms: local - offsetMs(offset) };
}

function offsetMs(offset: string): number {
  if (offset === 'Z' || offset === 'z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || '0');
  return sign * (hours * 60 + minutes) * 60_000;
}

/** True for "YYYY-MM-DD" naming a day that exists (Date.parse would roll 2024-02-30 into March). */
export function isCalendarDate(text: string): boolean {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}
