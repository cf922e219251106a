import { z } from 'zod';

/** Parameters several routes share, validated before any of them reaches SQL. */
export const accountId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected an account id');
export const accountQuery = z.strictObject({ account: accountId });
