import type { Command } from 'commander';
import { createPools } from '../../db/pools.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { withDatabaseServer } from '../database-session.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show each database, each service pool (total/idle/waiting), the server version and the size of every schema')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      await withDatabaseServer(async ({ server }) => {
        const pools = createPools(server.config);
        try {
          const status = await collectStatus(server.config, pools);
          console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(status));
          if (!isHealthy(status)) process.exitCode = 1;
        } finally {
          await pools.close();
        }
      });
    });
}
