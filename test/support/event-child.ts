/**
 * A separate process for the event bus fault tests, killed with SIGKILL by the test:
 *   relay-crash    a relay that dies right after the sink has a batch, before marking it sent;
 *   consumer-hang  a consumer whose handler writes its effect and then sleeps in the database.
 * Connects with the environment's configuration (REDIS_URL, TRADEDB_REDIS_PREFIX, databases).
 */
import { loadConfig } from '../../src/config/load-config.ts';
import { createOwnerPool } from '../../src/db/owner-pool.ts';
import { createPools } from '../../src/db/pools.ts';
import { createEventBus } from '../../src/events/event-bus.ts';
import { recordingHandler } from './recording-handler.ts';

const config = loadConfig({ envFile: false });
const bus = createEventBus(config);
const role = process.argv[2];

if (role === 'relay-crash') {
  const relay = bus.createRelay({
    pool: createOwnerPool(config.database),
    afterPublish: () => {
      console.log('published');
      process.kill(process.pid, 'SIGKILL');
    },
  });
  await relay.start();
} else if (role === 'consumer-hang') {
  const pools = createPools(config.database);
  const record = recordingHandler('child');
  await bus.subscribe({
    group: process.argv[3] ?? 'test.hang',
    topics: ['positions'],
    pool: pools.services.analytics,
    consumerName: 'child',
    handle: async (event, tx) => {
      await record(event, tx);
      console.log('handling');
      await tx.query('SELECT pg_sleep(60)');
    },
  });
} else {
  throw new Error(`unknown role ${role}`);
}
