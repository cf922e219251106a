import type { Command } from 'commander';
import { createPools } from '../../db/pools.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { withDatabaseServer } from '../database-session.ts';
import { collectOrchestrationStatus, formatOrchestrationStatus } from '../../orchestration/orchestration-status.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show each database, each service pool (total/idle/waiting), the server version, the size of every schema, workers, job queue, flow runs and the last backup')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabaseServer(async ({ server }) => {
        const pools = createPools(server.config);
        try {
          const status = await collectStatus(server.config, pools);
          // Worker health is shown when the orchestration database answers; its absence is in the status above.
          const flows = status.orchestration.ok
            ? await collectOrchestrationStatus(pools.orchestration).catch((error: Error) => ({ error: `worker status could not be read: ${error.message}` }))
            : undefined;
          if (options.json) console.log(JSON.stringify({ ...status, flows }, null, 2));
          else console.log([formatStatus(status), ...(flows ? ['error' in flows ? `Workers       ${flows.error}` : formatOrchestrationStatus(flows)] : [])].join('\n'));
          if (!isHealthy(status)) process.exitCode = 1;
        } finally {
          await pools.close();
        }
      });
    });
}
