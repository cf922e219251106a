import type { Command } from 'commander';
import { createPools } from '../../db/pools.ts';
import { runSetup } from '../../db/setup.ts';
import { collectStatus, formatStatus, isHealthy } from '../../db/status.ts';
import { UserFacingError } from '../../db/errors.ts';
import { DEMO_SOURCE, DEMO_SYMBOLS, loadDemoDataIfEmpty } from '../../services/data-ingestion/demo-data.ts';
import { withDatabaseServer } from '../database-session.ts';
import { formatSetupReport } from './setup-command.ts';
import { startWorker, workerSettings } from '../../orchestration/worker.ts';
import { waitForShutdown } from '../shutdown.ts';
import { startRelay } from '../../events/relay-runner.ts';
import { startProcessLogging } from '../../services/logging/process-logging.ts';
import { startNotifier } from '../../services/notification/notifier.ts';
import { startLiveAnalytics } from '../../services/analytics/live-analytics.ts';
import { startAuditSealer } from '../../ops/audit-sealer.ts';
import { startApi } from '../../api/api-runner.ts';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('bring up the database (embedded by default), apply setup, report status, and run until Ctrl-C')
    .option('--once', 'exit 0 after setup and status instead of running (CI smoke test)')
    .option('--no-demo', 'do not load the demo bars into an empty market_data')
    .option('--no-worker', 'do not run the flow worker in this process (run `tradedb worker` elsewhere)')
    .option('--no-relay', 'do not run the outbox relay in this process (run `tradedb relay` elsewhere)')
    .option('--no-notifier', 'do not run the notification service in this process (run `tradedb notifier` elsewhere)')
    .option('--no-analytics', 'do not keep portfolio analytics current from events in this process (the end-of-day flow still computes them)')
    .option('--no-audit-sealer', 'do not seal the audit trail every second in this process (`tradedb audit seal` or `verify` seal it too)')
    .option('--no-api', 'do not serve the HTTP API from this process (run `tradedb api` elsewhere)')
    .action(async (options: { once?: boolean; demo: boolean; worker: boolean; relay: boolean; notifier: boolean; analytics: boolean; auditSealer: boolean; api: boolean }) => {
      await withDatabaseServer(async ({ server, config }) => {
        const report = await runSetup(server.config, { log: (line) => console.error(line) });
        console.log(formatSetupReport(report, false));
        if (!report.verify?.ok) throw new UserFacingError('Setup finished but sql/04_verify_setup.sql found missing objects (listed above).');

        const pools = createPools(server.config, (pool, error) => console.error(`pool ${pool}: ${error.message}`));
        const logging = startProcessLogging(config.logging, pools.services.logging, options.once ? 'command' : 'service');
        try {
          if (options.demo) {
            const demoRuns = await loadDemoDataIfEmpty(pools.services.data_ingestion);
            const failed = demoRuns.find((run) => run.status !== 'succeeded');
            if (failed) throw new UserFacingError(`Loading the demo bars failed: ${failed.error ?? failed.status}`);
            if (demoRuns.length > 0) {
              const bars = demoRuns.reduce((sum, run) => sum + run.inserted, 0);
              console.log(`market_data was empty: loaded ${bars} synthetic demo bars of ${DEMO_SYMBOLS.join(', ')} (source "${DEMO_SOURCE}"). Try: npx tradedb bars ACME --from 2025-01-01`);
            }
          }
          const status = await collectStatus(server.config, pools);
          console.log(formatStatus(status));
          if (!isHealthy(status)) throw new UserFacingError('tradedb started, but not every database and pool is healthy (see above).');
          if (options.once) return;
          // Whatever fails after one part started must stop the parts already running: they would go on using closed pools.
          const running: Array<{ label: string; stop(): Promise<void> }> = [];
          try {
            if (options.worker) {
              const worker = await startWorker({ ...workerSettings(config), database: server.config, pools });
              running.push({ label: 'the flow worker (tradedb flows list)', stop: () => worker.stop() });
            }
            if (options.relay) {
              const relay = await startRelay(config, server.config);
              running.push({ label: `the event relay to ${relay.mode === 'redis' ? 'Redis Streams' : 'the PostgreSQL stream'} (tradedb events tail)`, stop: () => relay.stop() });
            }
            if (options.analytics) {
              const analytics = await startLiveAnalytics(config, pools);
              running.push({ label: 'live analytics (tradedb analytics summary)', stop: () => analytics.stop() });
            }
            if (options.auditSealer) {
              const sealer = startAuditSealer(server.config);
              running.push({ label: 'the audit sealer (tradedb audit verify)', stop: () => sealer.stop() });
            }
            if (options.api) {
              const api = await startApi(config, pools);
              running.push({
                label: `the dashboard on ${api.url}/ (it asks for a token: npx tradedb tokens create me --scope trade) and the HTTP API (docs at ${api.url}/docs)`,
                stop: () => api.stop(),
              });
            }
            if (options.notifier) {
              const notifier = await startNotifier(config, pools);
              running.push({ label: 'the notifier (tradedb notifications log)', stop: () => notifier.stop() });
            }
            console.log(`tradedb is running${running.length > 0 ? `, with ${running.map((part) => part.label).join(', ')}` : ''}. Press Ctrl-C to stop.`);
            const signal = await waitForShutdown();
            console.error(`${signal} received, shutting down ...`);
          } finally {
            for (const part of running.reverse()) await part.stop();
          }
        } finally {
          await logging.stop();
          await pools.close();
        }
      });
    });
}
