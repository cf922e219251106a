import type { Command } from 'commander';
import { createPools, type Pools } from '../../db/pools.ts';
import type { Config } from '../../config/load-config.ts';
import { createEventBus } from '../../events/event-bus.ts';
import { collectEventStatus, formatEventStatus, type EventStatus } from '../../events/event-status.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { withDatabaseServer } from '../database-session.ts';
import { collectOrchestrationStatus, formatOrchestrationStatus } from '../../orchestration/orchestration-status.ts';

/** The event bus's backlog and lag; an error (e.g. an older schema without the outbox) is shown, not thrown. */
async function readEventStatus(config: Config, pools: Pools): Promise<EventStatus | { error: string }> {
  const bus = createEventBus(config);
  try {
    return await collectEventStatus(bus, pools.services.analytics);
  } catch (error) {
    return { error: `event status could not be read: ${(error as Error).message}` };
  } finally {
    await bus.close();
  }
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show each database, each service pool (total/idle/waiting), the server version, the size of every schema, workers, job queue, flow runs, the last backup, the event outbox and each consumer group\'s lag')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabaseServer(async ({ server, config }) => {
        const pools = createPools(server.config);
        try {
          const status = await collectStatus(server.config, pools);
          // Worker health is shown when the orchestration database answers; its absence is in the status above.
          const flows = status.orchestration.ok
            ? await collectOrchestrationStatus(pools.orchestration).catch((error: Error) => ({ error: `worker status could not be read: ${error.message}` }))
            : undefined;
          const events = status.trading.ok ? await readEventStatus(config, pools) : undefined;
          if (options.json) console.log(JSON.stringify({ ...status, flows, events }, null, 2));
          else {
            const eventLines = events ? ['error' in events ? `Events        ${events.error}` : formatEventStatus(events)] : [];
            console.log([formatStatus(status), ...(flows ? ['error' in flows ? `Workers       ${flows.error}` : formatOrchestrationStatus(flows)] : []), ...eventLines].join('\n'));
          }
          if (!isHealthy(status)) process.exitCode = 1;
        } finally {
          await pools.close();
        }
      });
    });
}
