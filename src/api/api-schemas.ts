import { z } from 'zod';

/** Parameters several routes share, validated before any of them reaches SQL. */
export const accountId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected an account id');
export const accountQuery = z.strictObject({ account: accountId });
export const symbolParam = z.string().regex(/^[A-Za-z0-9^][A-Za-z0-9.^=/:_&-]{0,31}$/, 'expected a ticker').transform((value) => value.toUpperCase());

/** A page size from 1 to `max`, `fallback` when absent. */
export const limitParam = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/** A date (a day's UTC midnight) or an ISO 8601 instant with its offset. */
export const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/, 'expected a date YYYY-MM-DD or an ISO 8601 time with its offset')
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value))
  .refine((value) => !Number.isNaN(value.getTime()), 'not a real date');
