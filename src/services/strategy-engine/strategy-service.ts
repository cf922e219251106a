import { serviceLogger } from '../logging/logger.ts';
import type pg from 'pg';
import { z } from 'zod';
import { UserFacingError } from '../../db/errors.ts';
import { withTransaction } from '../../db/transaction.ts';
import { isStrategyKind, STRATEGY_KINDS, type StrategyKind } from './strategy-kinds.ts';

export type StrategyStatus = 'draft' | 'active' | 'paused' | 'retired';

export interface StrategyRow {
  id: number;
  name: string;
  kind: StrategyKind;
  description: string | null;
  parameters: Record<string, unknown>;
  status: StrategyStatus;
  version: number;
}

export interface SignalRow {
  id: number;
  strategyId: number;
  accountId: string | null;
  symbol: string;
  signalType: 'buy' | 'sell' | 'hold' | 'close';
  strength: string | null;
  price: string | null;
  quantity: string | null;
  generatedAt: Date;
  metadata: Record<string, unknown>;
}

export interface NewSignal {
  symbol: string;
  signalType: SignalRow['signalType'];
  generatedAt: Date;
  strength?: string;
  price?: string;
  quantity?: string;
  accountId?: string;
  metadata?: Record<string, unknown>;
}

const STRATEGY_COLUMNS = `id::float8 AS id, name, kind, description, parameters, status, version`;
const SIGNAL_COLUMNS = `id::float8 AS id, strategy_id::float8 AS "strategyId", account_id AS "accountId", symbol,
  signal_type AS "signalType", trim_scale(strength)::text AS strength, trim_scale(price)::text AS price,
  trim_scale(quantity)::text AS quantity, generated_at AS "generatedAt", metadata`;

/** The strategy's parameters checked against its kind's schema; the error names each field at fault. */
export function validateParameters(kind: string, parameters: unknown): Record<string, unknown> {
  if (!isStrategyKind(kind)) throw new UserFacingError(`kind: unknown strategy kind ${JSON.stringify(kind)}; known: ${Object.keys(STRATEGY_KINDS).join(', ')}`);
  const result = (STRATEGY_KINDS[kind] as z.ZodType).safeParse(parameters ?? {});
  if (!result.success) {
    throw new UserFacingError(`parameters of a ${kind} strategy: ${result.error.issues.map((issue) => `${issue.path.join('.') || '(object)'}: ${issue.message}`).join('; ')}`);
  }
  return result.data as Record<string, unknown>;
}

const newSignal = z.object({
  symbol: z.string().trim().min(1).transform((text) => text.toUpperCase()),
  signalType: z.enum(['buy', 'sell', 'hold', 'close']),
  generatedAt: z.date(),
  strength: z.string().regex(/^(0(\.\d{1,8})?|1(\.0{1,8})?)$/, 'a number from 0 to 1 with at most 8 decimals').optional(),
  price: z.string().regex(/^\d{1,12}(\.\d{1,8})?$/, 'a price with at most 8 decimals').optional(),
  quantity: z.string().regex(/^\d{1,20}(\.\d{1,8})?$/, 'a quantity with at most 8 decimals').optional(),
  accountId: z.string().min(1).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Strategies (kind, validated parameters, status, version) and their signals, through the strategy_engine role. */
export class StrategyService {
  constructor(private readonly pool: pg.Pool) {}

  async create(input: { name: string; kind: string; parameters?: unknown; description?: string }): Promise<StrategyRow> {
    const name = input.name?.trim();
    if (!name) throw new UserFacingError('name: is required');
    const parameters = validateParameters(input.kind, input.parameters);
    const { rows } = await this.pool.query<StrategyRow>(
      `INSERT INTO strategy_engine.strategies (name, kind, parameters, description) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING RETURNING ${STRATEGY_COLUMNS}`,
      [name, input.kind, JSON.stringify(parameters), input.description ?? null],
    );
    if (!rows[0]) throw new UserFacingError(`A strategy named ${name} exists already.`);
    return rows[0];
  }

  /**
   * New parameters (validated) and/or status for a strategy, only if it is still at
   * `expectedVersion`: two people editing one strategy cannot overwrite each other silently.
   */
  async update(id: number, expectedVersion: number, changes: { parameters?: unknown; status?: StrategyStatus }): Promise<StrategyRow> {
    return withTransaction(this.pool, async (client) => {
      const current = (await client.query<StrategyRow>(`SELECT ${STRATEGY_COLUMNS} FROM strategy_engine.strategies WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!current) throw new UserFacingError(`Unknown strategy ${id}.`);
      if (current.version !== expectedVersion) throw new UserFacingError(`Strategy ${id} was changed by someone else (now version ${current.version}, expected ${expectedVersion}); read it again.`);
      const parameters = changes.parameters === undefined ? current.parameters : validateParameters(current.kind, changes.parameters);
      const { rows } = await client.query<StrategyRow>(
        `UPDATE strategy_engine.strategies SET parameters = $2, status = $3, version = version + 1 WHERE id = $1 RETURNING ${STRATEGY_COLUMNS}`,
        [id, JSON.stringify(parameters), changes.status ?? current.status],
      );
      return rows[0]!;
    });
  }

  async list(): Promise<StrategyRow[]> {
    return (await this.pool.query<StrategyRow>(`SELECT ${STRATEGY_COLUMNS} FROM strategy_engine.strategies ORDER BY id`)).rows;
  }

  /**
   * Records a signal of an active strategy. A signal for the same strategy, symbol and time is
   * the same signal: it is returned as stored, and `created` says which happened.
   */
  async recordSignal(strategyId: number, input: NewSignal): Promise<{ signal: SignalRow; created: boolean }> {
    const parsed = newSignal.safeParse(input);
    if (!parsed.success) throw new UserFacingError(`signal: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    const signal = parsed.data;
    return withTransaction(this.pool, async (client) => {
      const strategy = (await client.query<{ status: StrategyStatus }>('SELECT status FROM strategy_engine.strategies WHERE id = $1', [strategyId])).rows[0];
      if (!strategy) throw new UserFacingError(`Unknown strategy ${strategyId}.`);
      if (strategy.status !== 'active') throw new UserFacingError(`Strategy ${strategyId} is ${strategy.status}; only an active strategy records signals.`);
      const inserted = await client.query<SignalRow>(
        `INSERT INTO strategy_engine.strategy_signals (strategy_id, account_id, symbol, signal_type, strength, price, quantity, generated_at, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT ON CONSTRAINT strategy_signals_strategy_symbol_time_key DO NOTHING
         RETURNING ${SIGNAL_COLUMNS}`,
        [strategyId, signal.accountId ?? null, signal.symbol, signal.signalType, signal.strength ?? null, signal.price ?? null, signal.quantity ?? null, signal.generatedAt, JSON.stringify(signal.metadata ?? {})],
      );
      const recorded = inserted.rows[0];
      if (recorded) {
        serviceLogger('strategy_engine').info(
          { strategyId, signalId: recorded.id, symbol: recorded.symbol, signalType: recorded.signalType, generatedAt: signal.generatedAt },
          `signal ${recorded.id} recorded: ${recorded.signalType} ${recorded.symbol}`,
        );
        return { signal: recorded, created: true };
      }
      const existing = await client.query<SignalRow>(`SELECT ${SIGNAL_COLUMNS} FROM strategy_engine.strategy_signals WHERE strategy_id = $1 AND symbol = $2 AND generated_at = $3`, [strategyId, signal.symbol, signal.generatedAt]);
      return { signal: existing.rows[0]!, created: false };
    });
  }

  async signals(strategyId: number, limit = 100): Promise<SignalRow[]> {
    return (await this.pool.query<SignalRow>(`SELECT ${SIGNAL_COLUMNS} FROM strategy_engine.strategy_signals WHERE strategy_id = $1 ORDER BY generated_at DESC, id DESC LIMIT $2`, [strategyId, limit])).rows;
  }
}
