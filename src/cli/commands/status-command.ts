import type { Command } from 'commander';
import { createPools, type Pools } from '../../db/pools.ts';
import type { Config } from '../../config/load-config.ts';
import { createEventBus } from '../../events/event-bus.ts';
import { collectEventStatus, formatEventStatus, type EventStatus } from '../../events/event-status.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { withDatabaseServer } from '../database-session.ts';
import { collectOrchestrationStatus, formatOrchestrationStatus } from '../../orchestration/orchestration-status.ts';
import { collectNotificationStatus, formatNotificationStatus } from '../../services/notification/notification-status.ts';
import { collectLogStatus, formatLogStatus } from '../../services/logging/log-status.ts';

/** One section of the status, or the reason it could not be read (e.g. a schema older than its tables), never thrown. */
async function readSection<T>(what: string, read: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await read();
  } catch (error) {
    return { error: `${what} could not be read: ${(error as Error).message}` };
  }
}

/** The event bus's backlog and lag. */
async function readEventStatus(config: Config, pools: Pools): Promise<EventStatus | { error: string }> {
  const bus = createEventBus(config);
  try {
    return await readSection('event status', () => collectEventStatus(bus, pools.services.analytics));
  } finally {
    await bus.close();
  }
}

/** A section's lines, or `label` and why it could not be read. */
function sectionLines<T extends object>(label: string, section: T | { error: string } | undefined, format: (value: T) => string): string[] {
  if (!section) return [];
  if ('error' in section && typeof section.error === 'string') return [`${label.padEnd(14)}${section.error}`];
  return [format(section as T)];
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show each database, each service pool (total/idle/waiting), the server version, the size of every schema, workers, job queue, flow runs, the last backup, the event outbox and each consumer group\'s lag, notifications and log errors')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabaseServer(async ({ server, config }) => {
        const pools = createPools(server.config);
        try {
          const status = await collectStatus(server.config, pools);
          // Worker health is shown when the orchestration database answers; its absence is in the status above.
          const flows = status.orchestration.ok ? await readSection('worker status', () => collectOrchestrationStatus(pools.orchestration)) : undefined;
          const events = status.trading.ok ? await readEventStatus(config, pools) : undefined;
          const notifications = status.trading.ok ? await readSection('notification status', () => collectNotificationStatus(pools.services.notification)) : undefined;
          const logs = status.trading.ok ? await readSection('log status', () => collectLogStatus(pools.services.logging)) : undefined;
          if (options.json) console.log(JSON.stringify({ ...status, flows, events, notifications, logs }, null, 2));
          else {
            console.log(
              [
                formatStatus(status),
                ...sectionLines('Workers', flows, formatOrchestrationStatus),
                ...sectionLines('Events', events, formatEventStatus),
                ...sectionLines('Notifications', notifications, formatNotificationStatus),
                ...sectionLines('Logs', logs, formatLogStatus),
              ].join('\n'),
            );
          }
          if (!isHealthy(status)) process.exitCode = 1;
        } finally {
          await pools.close();
        }
      });
    });
}
