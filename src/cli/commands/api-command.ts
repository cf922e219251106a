import type { Command } from 'commander';
import { startApi } from '../../api/api-runner.ts';
import { withServicePools } from '../database-session.ts';
import { waitForShutdown } from '../shutdown.ts';

/** `tradedb api`: the HTTP API alone, until Ctrl-C. */
export function registerApiCommand(program: Command): void {
  program
    .command('api')
    .description('run only the HTTP API (TRADEDB_API_HOST:TRADEDB_API_PORT, docs at /docs) until Ctrl-C; `npm start` runs it too. Tokens: tradedb tokens create')
    .action(async () => {
      // Service roles only: the API never holds the owner's connection (migration 0012).
      await withServicePools(async (pools, { config }) => {
        const api = await startApi(config, pools);
        console.log(`API listening on ${api.url} (dashboard at ${api.url}/, docs at ${api.url}/docs). Ctrl-C stops it.`);
        const signal = await waitForShutdown();
        console.error(`${signal} received, stopping the API ...`);
        await api.stop();
      });
    });
}
