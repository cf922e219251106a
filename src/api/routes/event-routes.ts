import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TOPICS } from '../../events/event-catalog.ts';
import type { EventEnvelope } from '../../events/event-envelope.ts';
import { ApiError } from '../api-error.ts';
import { bearerOf, type TokenCheck } from '../api-auth.ts';
import type { LiveEventFeed } from '../live-event-feed.ts';

/** A comment line this often keeps proxies and the browser from closing a quiet stream; the token is checked again as often. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** A client that lets this much pile up unread is cut off (it reconnects and reloads): memory stays bounded. */
const MAX_UNREAD_BYTES = 1024 * 1024;

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
 * shows. A stream ends when its token is revoked or expires (checked at each heartbeat), when
 * its client reads too slowly, and when the server closes.
 */
export const eventRoutes = (feed: LiveEventFeed | undefined, tokens: TokenCheck, heartbeatMs = DEFAULT_HEARTBEAT_MS): FastifyPluginAsyncZod =>
  async (app) => {
    const open = new Set<() => void>();
    // preClose: before the server waits for in-flight requests, which a stream never finishes.
    app.addHook('preClose', async () => {
      for (const finish of [...open]) finish();
    });

    app.get('/events', {
      config: { scope: 'read' },
      schema: { summary: 'Live events (text/event-stream): orders, trades, positions, risk, signals, ingestion, flows, backups', querystring: z.strictObject({ topics: topicList.optional() }) },
    }, async (request, reply) => {
      if (!feed) throw new ApiError(503, 'unavailable', 'This server has no event bus: live events are off.');
      const topics = new Set(request.query.topics ?? TOPICS);
      const bearer = bearerOf(request);
      const stream = new PassThrough();
      let unsubscribe: (() => void) | undefined;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearInterval(heartbeat);
        unsubscribe?.();
        open.delete(finish);
        stream.end();
      };
      const send = (text: string): void => {
        if (finished) return;
        if (stream.writableLength > MAX_UNREAD_BYTES) finish();
        else stream.write(text);
      };
      const heartbeat = setInterval(() => {
        void tokens.authenticate(bearer ?? '').then((token) => (token ? send(': heartbeat\n\n') : finish()), finish);
      }, heartbeatMs);
      open.add(finish);
      // Before the subscription, which may take a while: a client gone meanwhile still ends it all.
      reply.raw.once('close', finish);
      stream.once('close', finish);
      try {
        unsubscribe = await feed.subscribe((event) => {
          if (topics.has(event.topic)) send(serverSentEvent(event));
        });
      } catch (error) {
        finish();
        throw error;
      }
      if (finished) unsubscribe();
      send('retry: 3000\n: connected\n\n');
      return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').header('x-accel-buffering', 'no').send(stream);
    });
  };
