import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../src/api/api-server.ts';
import { createEventBus, type EventBus } from '../../src/events/event-bus.ts';
import { publishEvent } from '../../src/events/event-publisher.ts';
import type { OutboxRelay } from '../../src/events/outbox-relay.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { busConfig } from '../support/event-harness.ts';
import { redisUnavailableReason, startPrivateRedis, type PrivateRedis } from '../support/redis-server.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';
import { waitFor } from '../support/wait-for.ts';

const redisUnavailable = redisUnavailableReason();
if (redisUnavailable) console.warn(`skipped (live events over Redis): ${redisUnavailable}`);

/** A text/event-stream read as it arrives: the events parsed so far. */
function readEvents(body: ReadableStream<Uint8Array>): { events: Array<{ event: string; id: string; data: Record<string, unknown> }>; ended: Promise<void> } {
  const events: Array<{ event: string; id: string; data: Record<string, unknown> }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const ended = (async () => {
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((line) => !line.startsWith(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
        if (fields.event) events.push({ event: fields.event, id: fields.id!, data: JSON.parse(fields.data!) });
      }
    }
  })();
  return { events, ended };
}

describe.each([
  { mode: 'postgres', skip: false },
  { mode: 'redis', skip: redisUnavailable !== undefined },
])('GET /events over the $mode event bus', ({ mode, skip }) => {
  let trading: TradingDatabase;
  let redis: PrivateRedis | undefined;
  let bus: EventBus;
  let relay: OutboxRelay;
  let api: FastifyInstance;
  let url: string;
  let bearer: string;

  beforeAll(async () => {
    if (skip) return;
    trading = await openTradingDatabase(`sse${mode}`, { accounts: ['sse-a'], symbols: ['SSEX'] });
    redis = mode === 'redis' ? await startPrivateRedis() : undefined;
    bus = createEventBus(busConfig(redis?.url));
    relay = bus.createRelay({ pool: trading.owner, pollIntervalMs: 100 });
    await relay.start();
    bearer = `Bearer ${(await new ApiTokenService(trading.owner).create({ name: 'sse-reader', scope: 'read' })).token}`;
    api = await buildApiServer({ pools: trading.pools, bus });
    await api.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
    await relay?.stop();
    await bus?.close();
    await redis?.stop();
    await trading?.close();
  });

  it.skipIf(skip)('streams the events of the topics asked for as they are published, and ends when the server closes', async () => {
    expect((await fetch(`${url}/events`)).status).toBe(401);
    const badTopic = await fetch(`${url}/events?topics=orders,gossip`, { headers: { authorization: bearer } });
    expect(badTopic.status).toBe(400);
    expect((await badTopic.json()).error.message).toContain('expected topics among');
    if (mode === 'redis') expect((await (await fetch(`${url}/health`)).json()).redis).toMatchObject({ status: 'ok' });

    const response = await fetch(`${url}/events?topics=orders,positions`, { headers: { authorization: bearer } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const stream = readEvents(response.body!);
    // Not asked for (topic config), then asked for (positions): only the second arrives.
    await publishEvent(trading.owner, { type: 'config.changed', aggregate: { type: 'config', id: 'sse' }, payload: { key: 'sse', value: 1, version: 1, updatedBy: 'test' } });
    const positionEvent = await publishEvent(trading.owner, {
      type: 'position.changed',
      aggregate: { type: 'position', id: 'sse-a/SSEX', version: 1 },
      payload: { accountId: 'sse-a', symbol: 'SSEX', quantity: '3', averageCost: '10', realizedPnl: '0', version: 1 },
    });
    await waitFor(async () => stream.events.length > 0, { timeoutMs: 10_000 });
    expect(stream.events).toEqual([
      { event: 'position.changed', id: positionEvent, data: expect.objectContaining({ eventId: positionEvent, topic: 'positions', payload: expect.objectContaining({ symbol: 'SSEX', quantity: '3' }) }) },
    ]);
    // Closing the server ends the open stream instead of waiting for it forever.
    await api.close();
    await stream.ended;
  });

  it.skipIf(skip)('an open stream ends once its token is revoked (checked with each heartbeat)', async () => {
    const tokens = new ApiTokenService(trading.owner);
    const { token } = await tokens.create({ name: 'sse-revoked', scope: 'read' });
    const quick = await buildApiServer({ pools: trading.pools, bus, tokenCacheMs: 50, eventHeartbeatMs: 100 });
    try {
      await quick.listen({ host: '127.0.0.1', port: 0 });
      const response = await fetch(`http://127.0.0.1:${(quick.server.address() as AddressInfo).port}/events`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      const stream = readEvents(response.body!);
      let ended = false;
      void stream.ended.then(() => (ended = true));
      // Heartbeats keep it open while the token lives.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(ended).toBe(false);
      await tokens.revoke('sse-revoked');
      await stream.ended;
    } finally {
      await quick.close();
    }
  });
});
