import type { Command } from 'commander';
import { createEventBus } from '../../events/event-bus.ts';
import { TOPICS } from '../../events/event-catalog.ts';
import { startRelay } from '../../events/relay-runner.ts';
import { withServicePools } from '../database-session.ts';
import { waitForShutdown } from '../shutdown.ts';
import { parseList } from '../option-parsers.ts';

/** `tradedb relay` and `tradedb events tail`. */
export function registerEventCommands(program: Command): void {
  program
    .command('relay')
    .description('run only the outbox relay (events to Redis Streams, or the PostgreSQL stream without Redis) until Ctrl-C; `npm start` runs one too, and several may run at once')
    .action(async () => {
      await withServicePools(async (_pools, { config, server }) => {
        const running = await startRelay(config, server.config);
        console.log(`relay running (${running.mode === 'redis' ? 'Redis Streams' : 'PostgreSQL stream, no Redis'}). Ctrl-C stops it.`);
        const signal = await waitForShutdown();
        console.error(`${signal} received, stopping the relay ...`);
        await running.stop();
        console.error(`relay stopped after publishing ${running.relay.stats.published} events.`);
      }, 'service');
    });

  const events = program.command('events').description('the event bus: watch live events');
  events
    .command('tail')
    .description('print events as they are published, until Ctrl-C (needs a running relay: `npm start` or `tradedb relay`)')
    .option('--topic <topics>', `comma-separated topics (default all: ${TOPICS.join(', ')})`, parseList)
    .option('--json', 'one JSON envelope per line')
    .action(async (options: { topic?: string[]; json?: boolean }) => {
      const unknown = (options.topic ?? []).filter((topic) => !TOPICS.includes(topic));
      if (unknown.length > 0) {
        program.error(`--topic: unknown topic ${unknown.map((topic) => `"${topic}"`).join(', ')} (topics: ${TOPICS.join(', ')})`);
      }
      await withServicePools(async (pools, { config }) => {
        const bus = createEventBus(config);
        const subscription = await bus.listen(pools.services.analytics, options.topic ?? TOPICS, (event) => {
          if (options.json) console.log(JSON.stringify(event));
          else console.log(`${event.occurredAt}  ${event.type.padEnd(24)} ${event.aggregate.type}/${event.aggregate.id}  ${JSON.stringify(event.payload)}`);
        });
        console.error(`listening to ${(options.topic ?? TOPICS).join(', ')} (${bus.mode === 'redis' ? 'Redis pub/sub' : 'PostgreSQL stream'}); Ctrl-C stops.`);
        await waitForShutdown();
        await subscription.close();
        await bus.close();
      });
    });
}
