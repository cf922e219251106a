/**
 * A worker in its own process running the test flows, for tests that kill a worker with -9.
 * Connects with the environment's configuration; prints "ready" once its workers are up.
 */
import { loadConfig } from '../../src/config/load-config.ts';
import { createPools } from '../../src/db/pools.ts';
import { startWorker } from '../../src/orchestration/worker.ts';
import { TEST_FLOWS } from './probe-flows.ts';

const config = loadConfig({ envFile: false });
const pools = createPools(config.database);
await startWorker({ database: config.database, settings: config, pools, flows: TEST_FLOWS, schedule: false, heartbeatMs: 200, pollIntervalMs: 200 });
console.log('ready');
