import type pg from 'pg';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import { OrderInputError } from './execution-errors.ts';
import { OrderService, type PlacedOrder } from './order-service.ts';
import { orderRepository } from './order-repository.ts';
import { fromUnits, toUnits } from '../../shared/decimal-text.ts';
import { OPEN_STATUS_SQL } from './order-state-machine.ts';

interface StoredSignal {
  id: number;
  strategyId: number;
  accountId: string | null;
  symbol: string;
  signalType: 'buy' | 'sell' | 'hold' | 'close';
  price: string | null;
  quantity: string | null;
}

/** A close signal for a position that is flat, or already being closed by open orders. */
export class NothingToCloseError extends OrderInputError {
  constructor(signalId: number, accountId: string, symbol: string) {
    super('signalType', `signal ${signalId} says close, but account ${accountId} has no ${symbol} left to close`);
    this.name = 'NothingToCloseError';
  }
}

/**
 * Turns a strategy signal into an order for an account, through the same placement and risk
 * check as any order. buy/sell become orders of the signal's quantity (or `quantity`), at its
 * price as a limit when it has one; close flattens what the account holds beyond what open
 * orders on the closing side will take (NothingToCloseError when that is nothing); hold is no order.
 * The client order id is derived from the signal, so acting on a signal twice places one order.
 */
export async function placeOrderFromSignal(executionPool: pg.Pool, signalId: number, options: { accountId: string; quantity?: string }): Promise<PlacedOrder> {
  const { rows } = await executionPool.query<StoredSignal>(
    `SELECT id::float8 AS id, strategy_id::float8 AS "strategyId", account_id AS "accountId", symbol, signal_type AS "signalType",
            trim_scale(price)::text AS price, trim_scale(quantity)::text AS quantity
       FROM strategy_engine.strategy_signals WHERE id = $1`,
    [signalId],
  );
  const signal = rows[0];
  if (!signal) throw new OrderInputError('signalId', `unknown signal ${signalId}`);
  if (signal.accountId && signal.accountId !== options.accountId) throw new OrderInputError('accountId', `signal ${signalId} is aimed at account ${signal.accountId}`);
  if (signal.signalType === 'hold') throw new OrderInputError('signalType', `signal ${signalId} says hold: there is nothing to order`);
  // Acted on before: that order, whatever the position is now (a close computed today would differ).
  const clientOrderId = `signal-${signalId}`;
  const existing = await withAccountTransaction(executionPool, options.accountId, (client) => orderRepository.findByClientOrderId(client, options.accountId, clientOrderId), { readOnly: true });
  if (existing) return { order: existing, created: false };

  let side: 'buy' | 'sell';
  let quantity: string | undefined;
  if (signal.signalType === 'close') {
    // What the position holds beyond what open orders on the closing side will already take.
    const { rows: held } = await withAccountTransaction(
      executionPool,
      options.accountId,
      (client) =>
        client.query<{ held: string; closing: string }>(
          `WITH position AS (SELECT coalesce((SELECT quantity FROM execution.positions WHERE account_id = $1 AND symbol = $2), 0) AS quantity)
           SELECT trim_scale(p.quantity)::text AS held,
                  trim_scale(coalesce((SELECT sum(o.quantity - o.filled_quantity) FROM execution.orders o
                                        WHERE o.account_id = $1 AND o.symbol = $2 AND o.status IN ${OPEN_STATUS_SQL}
                                          AND o.side = CASE WHEN p.quantity < 0 THEN 'buy' ELSE 'sell' END), 0))::text AS closing
             FROM position p`,
          [options.accountId, signal.symbol],
        ),
      { readOnly: true },
    );
    const position = toUnits(held[0]!.held);
    const left = (position < 0n ? -position : position) - toUnits(held[0]!.closing);
    if (left <= 0n) throw new NothingToCloseError(signalId, options.accountId, signal.symbol);
    side = position < 0n ? 'buy' : 'sell';
    quantity = fromUnits(left);
  } else {
    side = signal.signalType;
    quantity = options.quantity ?? signal.quantity ?? undefined;
    if (!quantity) throw new OrderInputError('quantity', `signal ${signalId} carries no quantity; give one`);
  }
  return new OrderService(executionPool).place({
    accountId: options.accountId,
    clientOrderId,
    symbol: signal.symbol,
    side,
    quantity,
    orderType: signal.price ? 'limit' : 'market',
    limitPrice: signal.price,
    strategyId: signal.strategyId,
    signalId: signal.id,
  });
}
