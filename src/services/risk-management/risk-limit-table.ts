/** Rows of risk_management.risk_limits, and what a pre-trade check finds. */

export const LIMIT_TYPES = ['max_position_quantity', 'max_order_notional', 'max_gross_exposure', 'max_daily_loss', 'max_open_orders'] as const;
export type LimitType = (typeof LIMIT_TYPES)[number];
export type LimitScope = 'account' | 'strategy' | 'symbol';

export interface RiskLimitRow {
  id: number;
  scope: LimitScope;
  symbol: string | null;
  strategyId: number | null;
  limitType: LimitType;
  /** A magnitude: quantity, base currency or a count; a daily loss limit of 5000 stops at -5000. */
  limitValue: string;
}

/** One reason an order may not go out. */
export interface RiskBreach {
  /** The limit broken; null for the kill switch. */
  limitId: number | null;
  type: LimitType | 'kill_switch' | 'no_reference_price';
  detail: string;
  context: Record<string, unknown>;
}

/** The shared.system_config key of the kill switch: {"enabled": true, "reason": "..."} stops new orders. */
export const KILL_SWITCH_KEY = 'trading.kill_switch';
