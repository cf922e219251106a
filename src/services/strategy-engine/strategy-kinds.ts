import { z } from 'zod';

/**
 * The strategy implementations tradedb knows, each with the schema its parameters must match.
 * A strategy row names its kind; its parameters are validated against the kind's schema whenever
 * they are written, so a running strategy never meets parameters it cannot read.
 */
export const STRATEGY_KINDS = {
  /** Signals are recorded from outside (a notebook, another program); no parameters. */
  manual: z.object({}).strict(),
  /** Buy when the fast simple moving average of closes crosses above the slow one, sell when below. */
  sma_crossover: z
    .object({
      fast: z.number().int().min(1).max(500),
      slow: z.number().int().min(2).max(2000),
      interval: z.enum(['1m', '5m', '15m', '30m', '1h', '1d']).default('1d'),
      quantity: z.string().regex(/^\d+(\.\d{1,8})?$/, 'a quantity such as "10" or "0.5"'),
    })
    .strict()
    .refine((parameters) => parameters.fast < parameters.slow, { message: 'fast must be shorter than slow', path: ['fast'] }),
} as const;

export type StrategyKind = keyof typeof STRATEGY_KINDS;

export function isStrategyKind(value: string): value is StrategyKind {
  return Object.hasOwn(STRATEGY_KINDS, value);
}
