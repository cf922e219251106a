import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { UserFacingError } from '../../db/errors.ts';
import { formatDecimal, isZero, parseDecimal } from '../../shared/decimal-text.ts';
import { LIMIT_TYPES, type LimitType, type RiskLimitRow } from './risk-limit-table.ts';

export interface RiskEventRow {
  id: number;
  riskLimitId: number | null;
  eventType: string;
  severity: string;
  detail: string;
  orderId: number | null;
  occurredAt: Date;
}

const LIMIT_COLUMNS = `id::float8 AS id, scope, symbol, strategy_id::float8 AS "strategyId", limit_type AS "limitType",
  trim_scale(limit_value)::text AS "limitValue", enabled, version`;

export interface PositionLimitRow {
  symbol: string;
  maxLongQuantity: string | null;
  maxShortQuantity: string | null;
  enabled: boolean;
  version: number;
}

const POSITION_LIMIT_COLUMNS = `symbol, trim_scale(max_long_quantity)::text AS "maxLongQuantity", trim_scale(max_short_quantity)::text AS "maxShortQuantity", enabled, version`;

/** A limit's magnitude as decimal text: at most 8 decimals, above 0 (or 0 too, where it forbids a side). */
function magnitude(field: string, text: string, options: { zero: boolean }): string {
  const value = parseDecimal(text);
  if (!value || value.negative || (!options.zero && isZero(value)) || value.fraction.length > 8) {
    throw new UserFacingError(`${field}: expected an amount ${options.zero ? '0 or more' : 'above 0'} with at most 8 decimals, got ${JSON.stringify(text)}`);
  }
  return formatDecimal(value);
}

/** Risk limits, position limits and risk events of an account, through the risk_management role. */
export class RiskLimitService {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Sets (creates or replaces) the limit of `type` for the account, or for one of its symbols or
   * strategies; the next order is checked against it.
   */
  async setLimit(accountId: string, limit: { type: string; value: string; symbol?: string; strategyId?: number }): Promise<RiskLimitRow & { enabled: boolean; version: number }> {
    if (!(LIMIT_TYPES as readonly string[]).includes(limit.type)) throw new UserFacingError(`type: expected one of ${LIMIT_TYPES.join(', ')}, got ${limit.type}`);
    const value = magnitude('value', limit.value, { zero: false });
    if (limit.symbol && limit.strategyId) throw new UserFacingError('A limit applies to the account, one symbol or one strategy: give --symbol or --strategy, not both.');
    const scope = limit.symbol ? 'symbol' : limit.strategyId ? 'strategy' : 'account';
    return withAccountTransaction(this.pool, accountId, async (client) => {
      const { rows } = await client.query<RiskLimitRow & { enabled: boolean; version: number }>(
        `INSERT INTO risk_management.risk_limits (account_id, scope, symbol, strategy_id, limit_type, limit_value)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT risk_limits_target_key
         DO UPDATE SET limit_value = excluded.limit_value, enabled = true, version = risk_limits.version + 1
         RETURNING ${LIMIT_COLUMNS}`,
        [accountId, scope, limit.symbol?.toUpperCase() ?? null, limit.strategyId ?? null, limit.type as LimitType, value],
      );
      return rows[0]!;
    });
  }

  /**
   * Sets (creates or replaces) the position limit of one symbol: how long and how short the
   * position may get with every open order on that side filled. Omitted means no limit on that
   * side; 0 forbids it (a max short of 0: no shorting).
   */
  async setPositionLimit(accountId: string, limit: { symbol: string; maxLong?: string; maxShort?: string }): Promise<PositionLimitRow> {
    if (limit.maxLong === undefined && limit.maxShort === undefined) throw new UserFacingError('Give --max-long, --max-short or both.');
    const maxLong = limit.maxLong === undefined ? null : magnitude('maxLong', limit.maxLong, { zero: true });
    const maxShort = limit.maxShort === undefined ? null : magnitude('maxShort', limit.maxShort, { zero: true });
    return withAccountTransaction(this.pool, accountId, async (client) => {
      const { rows } = await client.query<PositionLimitRow>(
        `INSERT INTO risk_management.position_limits (account_id, symbol, max_long_quantity, max_short_quantity)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, symbol)
         DO UPDATE SET max_long_quantity = excluded.max_long_quantity, max_short_quantity = excluded.max_short_quantity,
                       enabled = true, version = position_limits.version + 1
         RETURNING ${POSITION_LIMIT_COLUMNS}`,
        [accountId, limit.symbol.trim().toUpperCase(), maxLong, maxShort],
      );
      return rows[0]!;
    });
  }

  async positionLimits(accountId: string): Promise<PositionLimitRow[]> {
    return withAccountTransaction(this.pool, accountId, async (client) => (await client.query<PositionLimitRow>(`SELECT ${POSITION_LIMIT_COLUMNS} FROM risk_management.position_limits WHERE account_id = $1 ORDER BY symbol`, [accountId])).rows, { readOnly: true });
  }

  async limits(accountId: string): Promise<Array<RiskLimitRow & { enabled: boolean; version: number }>> {
    return withAccountTransaction(this.pool, accountId, async (client) => (await client.query(`SELECT ${LIMIT_COLUMNS} FROM risk_management.risk_limits WHERE account_id = $1 ORDER BY id`, [accountId])).rows, { readOnly: true });
  }

  async events(accountId: string, limit = 50): Promise<RiskEventRow[]> {
    return withAccountTransaction(
      this.pool,
      accountId,
      async (client) =>
        (
          await client.query<RiskEventRow>(
            `SELECT id::float8 AS id, risk_limit_id::float8 AS "riskLimitId", event_type AS "eventType", severity, detail,
                    order_id::float8 AS "orderId", occurred_at AS "occurredAt"
               FROM risk_management.risk_events WHERE account_id = $1 ORDER BY id DESC LIMIT $2`,
            [accountId, limit],
          )
        ).rows,
      { readOnly: true },
    );
  }
}
