import { z } from 'zod';
import type { FlowDefinition } from '../../src/orchestration/flow-definition.ts';

/**
 * Flows for worker tests. `probe` records one task and can fail its first attempts, or hang on
 * one attempt (until its process is killed). `hourly` fires every hour, with 3 hours of backfill.
 */
export const probeFlow: FlowDefinition<{ label: string; failAttempts: number; hangOnAttempt: number }> = {
  name: 'probe',
  description: 'test flow',
  maxAttempts: 3,
  parameters: z.object({ label: z.string(), failAttempts: z.number().int().default(0), hangOnAttempt: z.number().int().default(0) }).strict(),
  async run(context, parameters) {
    if (context.attempt === parameters.hangOnAttempt) await new Promise(() => undefined);
    const outcome = await context.task('probe', { label: parameters.label }, async () => {
      if (context.attempt <= parameters.failAttempts) throw new Error(`probe ${parameters.label} fails attempt ${context.attempt} on purpose`);
      return { label: parameters.label, attempt: context.attempt };
    });
    if ('error' in outcome) throw new Error(outcome.error);
    return outcome.result;
  },
};

export const hourlyFlow: FlowDefinition<Record<string, never>> = {
  name: 'hourly',
  description: 'test flow on a schedule',
  cron: '0 * * * *',
  backfillHours: 3,
  maxAttempts: 1,
  parameters: z.object({}).strict(),
  async run(context) {
    return { ranFor: context.runFor.toISOString() };
  },
};

export const TEST_FLOWS = [probeFlow, hourlyFlow];
