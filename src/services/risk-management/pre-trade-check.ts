import type { Queryable } from '../../db/queryable.ts';
import { compareDecimals, fromUnits, parseDecimal, toUnits } from '../../shared/decimal-text.ts';
import { latestCloseSql } from '../data-ingestion/latest-close-sql.ts';
import { KILL_SWITCH_KEY, type RiskBreach, type RiskLimitRow } from './risk-limit-table.ts';
import { OPEN_STATUS_SQL } from '../execution/order-state-machine.ts';

/** The order being checked, as the execution service validated it. */
export interface OrderUnderCheck {
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  quantity: string;
  limitPrice: string | null;
  stopPrice: string | null;
  strategyId: number | null;
}

/** -1, 0, 1 for decimal texts of any scale. */
function compare(a: string, b: string): number {
  return compareDecimals(parseDecimal(a)!, parseDecimal(b)!);
}

/** a × b exactly, for two decimals of at most 8 decimals each. */
function multiply(a: string, b: string): string {
  return fromUnits(toUnits(a) * toUnits(b), 16);
}

function absolute(text: string): string {
  return text.startsWith('-') ? text.slice(1) : text;
}

/**
 * The pre-trade check, run inside the order's transaction (acting for its account) after the
 * order is inserted as pending, so that it counts among the open orders: the kill
 * switch, then every enabled limit of the account, of the order's symbol and of its strategy.
 * Order placements of one account are serialized (an advisory lock), and the position is read
 * under its row lock, so two orders — or an order and a fill — cannot both pass on the same room.
 * A value equal to its limit passes; the daily loss limit stops trading once the loss reaches it.
 * Returns the breaches; none means the order may go.
 */
export async function checkOrder(db: Queryable, order: OrderUnderCheck): Promise<RiskBreach[]> {
  await db.query("SELECT pg_advisory_xact_lock(hashtext('tradedb.order-placement'), hashtext($1))", [order.accountId]);
  const killSwitch = await db.query<{ enabled: boolean; reason: string | null }>(
    "SELECT coalesce((value->>'enabled')::boolean, false) AS enabled, value->>'reason' AS reason FROM shared.system_config WHERE key = $1",
    [KILL_SWITCH_KEY],
  );
  if (killSwitch.rows[0]?.enabled) {
    return [{ limitId: null, type: 'kill_switch', detail: `the kill switch is on${killSwitch.rows[0].reason ? `: ${killSwitch.rows[0].reason}` : ''}; no new orders`, context: {} }];
  }

  const { rows: limits } = await db.query<RiskLimitRow>(
    `SELECT id::float8 AS id, scope, symbol, strategy_id::float8 AS "strategyId", limit_type AS "limitType", trim_scale(limit_value)::text AS "limitValue"
       FROM risk_management.risk_limits
      WHERE account_id = $1 AND enabled
        AND (scope = 'account' OR (scope = 'symbol' AND symbol = $2) OR (scope = 'strategy' AND strategy_id = $3))
      ORDER BY id`,
    [order.accountId, order.symbol, order.strategyId],
  );
  if (limits.length === 0) return [];

  const price = order.limitPrice ?? order.stopPrice ?? (await latestClose(db, order.symbol));
  const breaches: RiskBreach[] = [];
  for (const limit of limits) {
    const scopeSymbol = limit.scope === 'symbol' ? order.symbol : null;
    const scopeStrategy = limit.scope === 'strategy' ? order.strategyId : null;
    const breach = (value: string, detail: string) => breaches.push({ limitId: limit.id, type: limit.limitType, detail: `${limit.limitType} ${limit.limitValue} (${limit.scope}${scopeSymbol ? ` ${scopeSymbol}` : ''}): ${detail}`, context: { value, limit: limit.limitValue, scope: limit.scope } });
    const needsPrice = limit.limitType === 'max_order_notional' || limit.limitType === 'max_gross_exposure';
    if (needsPrice && price === undefined) {
      breaches.push({ limitId: limit.id, type: 'no_reference_price', detail: `${limit.limitType} needs a price for ${order.symbol}: give a limit price, or load bars for it`, context: {} });
      continue;
    }
    switch (limit.limitType) {
      case 'max_order_notional': {
        const notional = multiply(order.quantity, price!);
        if (compare(notional, limit.limitValue) > 0) breach(notional, `the order's notional would be ${notional}`);
        break;
      }
      case 'max_position_quantity': {
        // Positions are per symbol: an account-wide limit caps each symbol's position.
        // Open orders include the one being checked (it is already inserted, pending).
        const projected = fromUnits(toUnits(await lockedPosition(db, order.accountId, order.symbol)) + toUnits(await openRemaining(db, order)));
        if (compare(absolute(projected), limit.limitValue) > 0) breach(projected, `the position could reach ${projected}`);
        break;
      }
      case 'max_open_orders': {
        // Counting the order being checked, already inserted as pending.
        const open = await openOrderCount(db, order.accountId, scopeSymbol, scopeStrategy);
        if (open > Number(limit.limitValue)) breach(String(open), `this would be open order number ${open}`);
        break;
      }
      case 'max_gross_exposure': {
        await lockedPosition(db, order.accountId, order.symbol);
        const projected = await grossExposure(db, order.accountId, scopeSymbol);
        if (compare(projected, limit.limitValue) > 0) breach(projected, `gross exposure would be ${projected}`);
        break;
      }
      case 'max_daily_loss': {
        const realized = await realizedToday(db, order.accountId, scopeSymbol);
        if (compare(realized, `-${limit.limitValue}`) <= 0) breach(realized, `today's realized P&L is ${realized}`);
        break;
      }
    }
  }
  return breaches;
}

/** The newest close of the symbol at any interval, as the price of an order that names none. */
async function latestClose(db: Queryable, symbol: string): Promise<string | undefined> {
  const { rows } = await db.query<{ close: string | null }>(`SELECT trim_scale(${latestCloseSql('$1')})::text AS close`, [symbol]);
  return rows[0]?.close ?? undefined;
}

/** The position's signed quantity, its row created if need be and locked until the transaction ends. */
async function lockedPosition(db: Queryable, accountId: string, symbol: string): Promise<string> {
  await db.query('INSERT INTO execution.positions (account_id, symbol) VALUES ($1, $2) ON CONFLICT (account_id, symbol) DO NOTHING', [accountId, symbol]);
  const { rows } = await db.query<{ quantity: string }>('SELECT trim_scale(quantity)::text AS quantity FROM execution.positions WHERE account_id = $1 AND symbol = $2 FOR UPDATE', [accountId, symbol]);
  return rows[0]!.quantity;
}

/** What open orders on the order's side could still add to the position (signed). */
async function openRemaining(db: Queryable, order: OrderUnderCheck): Promise<string> {
  const { rows } = await db.query<{ remaining: string }>(
    `SELECT trim_scale(coalesce(sum(quantity - filled_quantity), 0))::text AS remaining FROM execution.orders
      WHERE account_id = $1 AND symbol = $2 AND side = $3 AND status IN ${OPEN_STATUS_SQL}`,
    [order.accountId, order.symbol, order.side],
  );
  const remaining = rows[0]!.remaining;
  return order.side === 'buy' || remaining === '0' ? remaining : `-${remaining}`;
}

async function openOrderCount(db: Queryable, accountId: string, symbol: string | null, strategyId: number | null): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM execution.orders
      WHERE account_id = $1 AND status IN ${OPEN_STATUS_SQL}
        AND ($2::text IS NULL OR symbol = $2) AND ($3::bigint IS NULL OR strategy_id = $3)`,
    [accountId, symbol, strategyId],
  );
  return rows[0]!.n;
}

/**
 * Σ |quantity| × last close (average cost where there are no bars) over the account's positions,
 * plus what its open orders (the one being checked among them) would add at their limit or stop
 * price, else the last close.
 */
async function grossExposure(db: Queryable, accountId: string, symbol: string | null): Promise<string> {
  const { rows } = await db.query<{ exposure: string }>(
    `SELECT trim_scale(
              coalesce((SELECT sum(abs(p.quantity) * coalesce(${latestCloseSql('p.symbol')}, p.average_cost))
                          FROM execution.positions p WHERE p.account_id = $1 AND ($2::text IS NULL OR p.symbol = $2)), 0)
            + coalesce((SELECT sum((o.quantity - o.filled_quantity) * coalesce(o.limit_price, o.stop_price, ${latestCloseSql('o.symbol')}))
                          FROM execution.orders o
                         WHERE o.account_id = $1 AND o.status IN ${OPEN_STATUS_SQL}
                           AND ($2::text IS NULL OR o.symbol = $2)), 0))::text AS exposure`,
    [accountId, symbol],
  );
  return rows[0]!.exposure;
}

/** Realized P&L of the account's fills since midnight UTC. */
async function realizedToday(db: Queryable, accountId: string, symbol: string | null): Promise<string> {
  const { rows } = await db.query<{ realized: string }>(
    `SELECT trim_scale(coalesce(sum(realized_pnl), 0))::text AS realized FROM execution.trades
      WHERE account_id = $1 AND executed_at >= date_trunc('day', now(), 'UTC') AND ($2::text IS NULL OR symbol = $2)`,
    [accountId, symbol],
  );
  return rows[0]!.realized;
}
