/**
 * A separate process that records one fill (argument: the FillInput as JSON), for tests that
 * kill a process in the middle of a fill. Connects with the environment's configuration.
 */
import { loadConfig } from '../../src/config/load-config.ts';
import { createPools } from '../../src/db/pools.ts';
import { recordFill } from '../../src/services/execution/fill-service.ts';

const pools = createPools(loadConfig({ envFile: false }).database);
const input = JSON.parse(process.argv[2] ?? '{}');
await recordFill(pools.services.execution, { ...input, executedAt: new Date() });
await pools.close();
console.log('recorded');
