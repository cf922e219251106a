import type pg from 'pg';
import { z } from 'zod';
import { UserFacingError } from '../../db/errors.ts';
import { formatDecimal, parseDecimal } from '../../shared/decimal-text.ts';

export interface AccountRow {
  accountId: string;
  name: string;
  baseCurrency: string;
  startingCash: string;
  status: string;
  createdAt: Date;
}

const newAccount = z.object({
  accountId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits and _ . - only, at most 64, starting with a letter or digit'),
  name: z.string().trim().min(1, 'is required').max(200),
  baseCurrency: z.string().trim().toUpperCase().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code').default('USD'),
});

/**
 * Accounts live in `shared`, which only the owner role writes: this service
 * takes a pool of the owner (trading_user), not a service pool. Reading accounts as a service
 * goes through row-level security like every account-owned table.
 */
export class AccountService {
  constructor(private readonly ownerPool: pg.Pool) {}

  async add(input: { accountId: string; name: string; baseCurrency?: string; startingCash?: string }): Promise<AccountRow> {
    const parsed = newAccount.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UserFacingError(`Invalid account: ${issue.path.join('.')}: ${issue.message}`);
    }
    const cashParts = parseDecimal(input.startingCash ?? '0');
    if (!cashParts || cashParts.negative || cashParts.fraction.length > 8 || cashParts.whole.length > 12) {
      throw new UserFacingError(`Invalid account: startingCash: ${JSON.stringify(input.startingCash)} is not an amount of at least 0 with at most 8 decimals`);
    }
    const cash = formatDecimal(cashParts);
    const { rows } = await this.ownerPool.query<AccountRow>(
      `INSERT INTO shared.accounts (account_id, name, base_currency, starting_cash) VALUES ($1, $2, $3, $4)
       ON CONFLICT (account_id) DO NOTHING
       RETURNING account_id AS "accountId", name, base_currency AS "baseCurrency", trim_scale(starting_cash)::text AS "startingCash", status, created_at AS "createdAt"`,
      [parsed.data.accountId, parsed.data.name, parsed.data.baseCurrency, cash],
    );
    if (!rows[0]) throw new UserFacingError(`Account ${parsed.data.accountId} already exists.`);
    return rows[0];
  }

  async list(): Promise<AccountRow[]> {
    const { rows } = await this.ownerPool.query<AccountRow>(
      `SELECT account_id AS "accountId", name, base_currency AS "baseCurrency", trim_scale(starting_cash)::text AS "startingCash", status, created_at AS "createdAt"
         FROM shared.accounts ORDER BY account_id`,
    );
    return rows;
  }
}
