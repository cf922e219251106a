/**
 * The producer of the events benchmark's latency phase, in a process of its own as producers are
 * deployed (a service publishing while a relay and consumers run elsewhere): publishes
 * position.changed events at `rate` per second for `count` events and prints one JSON line per
 * event, {"eventId", "committedAt"} (ms since the epoch, sub-millisecond), once committed.
 * Configuration: the DatabaseConfig as JSON in TRADEDB_BENCH_DATABASE.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { createPools } from '../src/db/pools.ts';
import { publishEvent } from '../src/events/event-publisher.ts';

const database = JSON.parse(process.env.TRADEDB_BENCH_DATABASE ?? '') as DatabaseConfig;
const [count, rate] = process.argv.slice(2).map(Number) as [number, number];
const pools = createPools(database);
const now = () => performance.timeOrigin + performance.now();
const lines: string[] = [];
const start = performance.now();
const inFlight: Promise<void>[] = [];
for (let index = 0; index < count; index += 1) {
  const wait = start + (index * 1000) / rate - performance.now();
  if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  const eventId = randomUUID();
  inFlight.push(
    publishEvent(pools.services.logging, {
      type: 'position.changed',
      aggregate: { type: 'position', id: `acct/L${index % 50}`, version: index + 1 },
      payload: { accountId: 'acct', symbol: `L${index % 50}`, quantity: String(index), averageCost: '1', realizedPnl: '0', version: index + 1 },
      eventId,
    }).then(() => {
      lines.push(JSON.stringify({ eventId, committedAt: now() }));
    }),
  );
}
await Promise.all(inFlight);
const seconds = (performance.now() - start) / 1000;
await pools.close();
process.stdout.write(`${lines.join('\n')}\n${JSON.stringify({ achievedRate: count / seconds })}\n`);
