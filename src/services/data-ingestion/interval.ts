/**
 * Bar intervals and their calendar rules. A bar's timestamp is the UTC start of its period:
 * intraday bars sit on multiples of their length since the epoch (hourly bars on any half
 * hour), daily bars on UTC midnight
 * (the exchange-local date), weekly bars on Monday, monthly bars on the first of the month.
 */
export const INTERVALS = ['1m', '5m', '15m', '30m', '1h', '1d', '1wk', '1mo'] as const;
export type Interval = (typeof INTERVALS)[number];

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** Fixed-length intervals, in milliseconds. 1mo has no fixed length. */
const FIXED_LENGTH: Record<Exclude<Interval, '1mo'>, number> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '1d': DAY,
  '1wk': 7 * DAY,
};
/** 1970-01-05 was a Monday: weekly slots count from there. */
const FIRST_MONDAY = 4 * DAY;

export function isInterval(value: string): value is Interval {
  return (INTERVALS as readonly string[]).includes(value);
}

/** True for intervals whose bars are whole days, where a plain date is an acceptable timestamp. */
export function isDailyOrLonger(interval: Interval): boolean {
  return interval === '1d' || interval === '1wk' || interval === '1mo';
}

/**
 * The bar's slot number (its index since the epoch), or undefined when `ms` is not the start of a
 * period of this interval. Slots make duplicate detection a bitmap instead of a set of keys.
 */
export function intervalSlot(interval: Interval, ms: number): number | undefined {
  if (interval === '1mo') {
    const date = new Date(ms);
    if (date.getUTCDate() !== 1 || ms % DAY !== 0) return undefined;
    return (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
  }
  // Hourly bars of exchanges that open on the half hour (New York 09:30, Mumbai 09:15 UTC+5:30)
  // start at :30: an hour bar may start on any half hour.
  const length = interval === '1h' ? 30 * MINUTE : FIXED_LENGTH[interval];
  const offset = interval === '1wk' ? ms - FIRST_MONDAY : ms;
  const slot = offset / length;
  return Number.isInteger(slot) ? slot : undefined;
}

/** Length of one bar in milliseconds (a month counts as 31 days: used only for upper bounds). */
export function intervalLengthMs(interval: Interval): number {
  return interval === '1mo' ? 31 * DAY : FIXED_LENGTH[interval];
}
