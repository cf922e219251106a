import { fromUnits, toUnits } from '../../shared/decimal-text.ts';

/** A position as exact numbers: quantity and prices in 10^-8 units (bigint). */
export interface PositionState {
  quantity: bigint;
  averageCost: bigint;
  realizedPnl: bigint;
}

const SCALE = 100_000_000n;

/** n / d rounded half away from zero, as PostgreSQL's round() does for numeric. */
function divideRounded(n: bigint, d: bigint): bigint {
  const negative = n < 0n !== d < 0n;
  const absN = n < 0n ? -n : n;
  const absD = d < 0n ? -d : d;
  const quotient = (absN * 2n + absD) / (absD * 2n);
  return negative ? -quotient : quotient;
}

const abs = (value: bigint) => (value < 0n ? -value : value);
const sign = (value: bigint) => (value > 0n ? 1n : value < 0n ? -1n : 0n);

/**
 * A fill's effect on a position (the one formula every fill path uses):
 * - adding to the position (or opening it): the average cost becomes the quantity-weighted mean;
 * - reducing it: realized P&L gains (price − average cost) per unit closed, signed by the side
 *   held, and the average cost stays;
 * - flipping through zero: the closed part realizes as above and the rest opens at the price;
 * - fees always reduce realized P&L.
 * `signedQuantity` is + for a buy, − for a sell. Returns the new state and what the fill realized.
 */
export function applyFillToPosition(position: PositionState, signedQuantity: bigint, price: bigint, fees: bigint): { position: PositionState; realized: bigint } {
  const { quantity, averageCost } = position;
  const next = quantity + signedQuantity;
  let realized = -fees;
  let cost: bigint;
  if (next === 0n) {
    cost = 0n;
  } else if (quantity === 0n || sign(quantity) === sign(signedQuantity)) {
    cost = divideRounded(abs(quantity) * averageCost + abs(signedQuantity) * price, abs(next));
  } else {
    cost = sign(next) === sign(quantity) ? averageCost : price;
  }
  if (quantity !== 0n && sign(quantity) !== sign(signedQuantity)) {
    const closed = abs(quantity) < abs(signedQuantity) ? abs(quantity) : abs(signedQuantity);
    realized += divideRounded(closed * (price - averageCost) * sign(quantity), SCALE);
  }
  return { position: { quantity: next, averageCost: cost, realizedPnl: position.realizedPnl + realized }, realized };
}

export function positionStateFromText(row: { quantity: string; averageCost: string; realizedPnl: string }): PositionState {
  return { quantity: toUnits(row.quantity), averageCost: toUnits(row.averageCost), realizedPnl: toUnits(row.realizedPnl) };
}

export function positionStateToText(state: PositionState): { quantity: string; averageCost: string; realizedPnl: string } {
  return { quantity: fromUnits(state.quantity), averageCost: fromUnits(state.averageCost), realizedPnl: fromUnits(state.realizedPnl) };
}
