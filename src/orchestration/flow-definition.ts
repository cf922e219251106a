import type { z } from 'zod';
import type { Config } from '../config/load-config.ts';
import type { DatabaseConfig } from '../config/database-config.ts';
import type { Pools } from '../db/pools.ts';
import type { BarProvider } from '../services/data-ingestion/input-row.ts';
import type { ReferenceData } from '../services/data-ingestion/reference-data.ts';

/** Where a flow's bars come from: a provider for some symbols over a range. */
export type BarSource = (request: { symbols: string[]; from: Date; to: Date }) => Promise<BarProvider>;
/** Where a flow's company profiles, key statistics and holders come from, one symbol at a time. */
export type ReferenceSource = (symbol: string) => Promise<ReferenceData>;

/** What a running flow may use. */
export interface FlowContext {
  flowRunId: number;
  attempt: number;
  correlationId: string;
  pools: Pools;
  database: DatabaseConfig;
  settings: Pick<Config, 'backup' | 'maintenance'>;
  barSources: Record<string, BarSource>;
  referenceSources: Record<string, ReferenceSource>;
  /** When the run is for (its cron time, or now for a manual run). */
  runFor: Date;
  /**
   * Runs one task of the flow, recorded in orchestration.task_runs. A task that throws is
   * recorded as failed and returned as `{ error }`: it does not stop the flow's other tasks.
   */
  task<T>(name: string, parameters: Record<string, unknown>, work: () => Promise<T>): Promise<{ result: T } | { error: string }>;
}

/** A scheduled (or hand-started) unit of work: one graphile-worker task, `flow:<name>`. */
export interface FlowDefinition<Parameters extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  description: string;
  /** Cron in UTC (minute hour day-of-month month day-of-week); none: only run by hand. */
  cron?: string;
  /** After downtime, scheduled runs missed within this window are run (graphile-worker backfill). */
  backfillHours?: number;
  /** Attempts before a run is failed (retries back off exponentially: e^attempt seconds). */
  maxAttempts: number;
  parameters: z.ZodType<Parameters>;
  run(context: FlowContext, parameters: Parameters): Promise<unknown>;
}

/** graphile-worker task identifier of a flow. Its queue has the same name, so runs of one flow never overlap. */
export function flowTaskIdentifier(flowName: string): string {
  return `flow:${flowName}`;
}
