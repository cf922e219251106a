import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TOPICS } from '../../events/event-catalog.ts';
import type { EventEnvelope } from '../../events/event-envelope.ts';
import { ApiError } from '../api-error.ts';
import type { LiveEventFeed } from '../live-event-feed.ts';

/** A comment line this often keeps proxies and the browser from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

const topicList = z
  .string()
  .transform((value) => value.split(',').map((topic) => topic.trim()))
  .refine((topics) => topics.every((topic) => TOPICS.includes(topic)), `expected topics among ${TOPICS.join(', ')}, separated by commas`);

/** One server-sent event: the envelope's id, its type as the event name, the envelope as data. */
function serverSentEvent(event: EventEnvelope): string {
  return `id: ${event.eventId}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * GET /events: server-sent events of the event bus as they are published (with Redis or without),
 * for the dashboard's live updates. Nothing is replayed: a client that reconnects reloads what it
 * shows. Open streams end when the server closes.
 */
export const eventRoutes = (feed: LiveEventFeed | undefined): FastifyPluginAsyncZod =>
  async (app) => {
    const open = new Set<PassThrough>();
    // preClose: before the server waits for in-flight requests, which a stream never finishes.
    app.addHook('preClose', async () => {
      for (const stream of open) stream.end();
    });

    app.get('/events', {
      config: { scope: 'read' },
      schema: { summary: 'Live events (text/event-stream): orders, trades, positions, risk, signals, ingestion, flows, backups', querystring: z.strictObject({ topics: topicList.optional() }) },
    }, async (request, reply) => {
      if (!feed) throw new ApiError(503, 'unavailable', 'This server has no event bus: live events are off.');
      const topics = new Set(request.query.topics ?? TOPICS);
      const stream = new PassThrough();
      const unsubscribe = await feed.subscribe((event) => {
        if (topics.has(event.topic)) stream.write(serverSentEvent(event));
      });
      open.add(stream);
      const heartbeat = setInterval(() => stream.write(': heartbeat\n\n'), HEARTBEAT_MS);
      const finish = (): void => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(stream);
        stream.end();
      };
      // The response's close: the client went away, or the stream ended (the server closing).
      reply.raw.once('close', finish);
      stream.write('retry: 3000\n: connected\n\n');
      return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').header('x-accel-buffering', 'no').send(stream);
    });
  };
