import type { Command } from 'commander';
import { createPools } from '../../db/pools.ts';
import { runSetup } from '../../db/setup.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { UserFacingError } from '../../db/errors.ts';
import { withDatabaseServer } from '../database-session.ts';
import { formatSetupReport } from './setup-command.ts';

/** Resolves on the first Ctrl-C or SIGTERM. */
function shutdownRequested(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('bring up the database (embedded by default), apply setup, report status, and run until Ctrl-C')
    .option('--once', 'exit 0 after setup and status instead of running (CI smoke test)')
    .action(async (options: { once?: boolean }) => {
      await withDatabaseServer(async ({ server }) => {
        const report = await runSetup(server.config, { log: (line) => console.error(line) });
        console.log(formatSetupReport(report, false));
        if (!report.verify?.ok) throw new UserFacingError('Setup finished but sql/04_verify_setup.sql found missing objects (listed above).');

        const pools = createPools(server.config, (pool, error) => console.error(`pool ${pool}: ${error.message}`));
        try {
          const status = await collectStatus(server.config, pools);
          console.log(formatStatus(status));
          if (!isHealthy(status)) throw new UserFacingError('tradedb started, but not every database and pool is healthy (see above).');
          if (options.once) return;
          console.log('tradedb is running. Press Ctrl-C to stop.');
          const signal = await shutdownRequested();
          console.error(`${signal} received, shutting down ...`);
        } finally {
          await pools.close();
        }
      });
    });
}
