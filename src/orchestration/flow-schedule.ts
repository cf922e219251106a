import { type ParsedCronItem, parseCronItems } from 'graphile-worker';
import type { FlowDefinition } from './flow-definition.ts';
import { flowTaskIdentifier } from './flow-definition.ts';

/** graphile-worker cron items of the flows that have a schedule (identifier: the flow's name). */
export function cronItemsOf(flows: FlowDefinition<any>[]): ParsedCronItem[] {
  return parseCronItems(
    flows
      .filter((flow) => flow.cron)
      .map((flow) => ({
        task: flowTaskIdentifier(flow.name),
        match: flow.cron!,
        identifier: flow.name,
        options: { backfillPeriod: (flow.backfillHours ?? 0) * 3_600_000, maxAttempts: flow.maxAttempts, queueName: flowTaskIdentifier(flow.name) },
      })),
  );
}

/** The next `count` times (UTC, whole minutes, after `from`) a cron expression fires, by graphile-worker's own matcher. */
export function nextRuns(cron: string, from: Date, count: number): Date[] {
  const [item] = parseCronItems([{ task: 'next-runs', match: cron, identifier: 'next-runs' }]);
  const runs: Date[] = [];
  const minute = new Date(Math.floor(from.getTime() / 60_000) * 60_000 + 60_000);
  // A year of minutes bounds the search: every valid expression fires within one.
  for (let step = 0; step < 366 * 24 * 60 && runs.length < count; step += 1, minute.setUTCMinutes(minute.getUTCMinutes() + 1)) {
    if (item!.match({ min: minute.getUTCMinutes(), hour: minute.getUTCHours(), date: minute.getUTCDate(), month: minute.getUTCMonth() + 1, dow: minute.getUTCDay() })) runs.push(new Date(minute));
  }
  return runs;
}
