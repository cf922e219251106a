import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventBus } from '../../../src/events/event-bus.ts';
import type { OutboxRelay } from '../../../src/events/outbox-relay.ts';
import { publishEvent } from '../../../src/events/event-publisher.ts';
import { EncryptionKeyMissingError, NotificationConfigService } from '../../../src/services/notification/notification-config-service.ts';
import { emailTarget } from '../../../src/services/notification/notification-target.ts';
import { startNotifier, type RunningNotifier } from '../../../src/services/notification/notifier.ts';
import { sendNotification } from '../../../src/services/notification/notification-channels.ts';
import { notificationMessage } from '../../../src/services/notification/notification-rules.ts';
import { connectRedis, redisReady } from '../../../src/events/redis-connection.ts';
import { redisUnavailableReason, startPrivateRedis } from '../../support/redis-server.ts';
import { failingOn, recordingHandler } from '../../support/recording-handler.ts';
import { busConfig, openEventDatabase, publishPositionEvents, type EventDatabase } from '../../support/event-harness.ts';
import { configureLogging } from '../../../src/services/logging/logger.ts';
import { waitFor } from '../../support/wait-for.ts';

const KEY = 'test-encryption-key-0123456789';
const unavailable = redisUnavailableReason();
if (unavailable) console.warn(`skipping the redis channel test: ${unavailable}`);
let db: EventDatabase;
let relay: OutboxRelay;
let notifier: RunningNotifier;
let configs: NotificationConfigService;
const config = { ...busConfig(undefined), notifications: { encryptionKey: KEY, maxAttempts: 3, retryBaseMs: 50 } };
const bus = createEventBus(config);

beforeAll(async () => {
  db = await openEventDatabase('notify');
  relay = bus.createRelay({ pool: db.owner, pollIntervalMs: 50 });
  await relay.start();
  notifier = await startNotifier(config, db.pools);
  configs = new NotificationConfigService(db.pools.services.notification, KEY);
});
afterAll(async () => {
  await notifier?.stop();
  await relay?.stop();
  await bus.close();
  await db?.close();
});

let riskEvents = 0;
/** Publishes a risk breach (severity warning) and returns its event id. */
async function publishBreach(detail = 'order notional 12000 above 10000'): Promise<string> {
  riskEvents += 1;
  return (await publishEvent(db.pools.services.risk_management, {
    type: 'risk.breached',
    aggregate: { type: 'risk_event', id: String(riskEvents) },
    payload: { accountId: 'acct-e', riskEventId: riskEvents, eventType: 'max_order_notional', severity: 'warning', detail, context: {}, occurredAt: new Date().toISOString() },
  }))!;
}

/** notification_logs rows of one config, in order. */
async function attemptsOf(name: string) {
  const { rows } = await db.admin.query(
    `SELECT l.event_id AS "eventId", l.event_type AS "eventType", l.status, l.attempt, l.error
       FROM notification.notification_logs l JOIN notification.notification_configs c ON c.id = l.config_id
      WHERE c.name = $1 ORDER BY l.id`,
    [name],
  );
  return rows as Array<{ eventId: string; eventType: string; status: string; attempt: number; error: string | null }>;
}

describe('notifications', () => {
  it('a webhook gets the events its config wants, stored encrypted, retried with backoff until it answers', async () => {
    const requests: Array<{ path: string; key: string | undefined; body: { subject: string; severity: string } }> = [];
    const server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        requests.push({ path: request.url ?? '', key: request.headers['idempotency-key'] as string | undefined, body: JSON.parse(body) });
        response.statusCode = requests.length <= 2 ? 503 : 200;
        response.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-token-123`;
    // Every log line of the test, to look for the secret in.
    const logLines: string[] = [];
    configureLogging({ level: 'debug', console: { write: (line: string) => logLines.push(line) } });
    try {
      await configs.add({ name: 'ops-webhook', channel: 'webhook', target: { url }, eventTypes: ['risk.breached'], minSeverity: 'warning' });
      const ciphertext = await db.admin.query("SELECT position('secret-token' IN encode(target_encrypted, 'escape')) AS found FROM notification.notification_configs WHERE name = 'ops-webhook'");
      expect(ciphertext.rows[0].found).toBe(0);

      await publishPositionEvents(db.pools.services.logging, 2, 2, 'QUIET');
      const eventId = await publishBreach();
      await waitFor(async () => (await attemptsOf('ops-webhook')).some((row) => row.status === 'sent'), { timeoutMs: 20_000 });
      const attempts = await attemptsOf('ops-webhook');
      expect(attempts.map(({ status, attempt }) => [attempt, status])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'sent']]);
      expect(attempts.every((row) => row.eventId === eventId && row.eventType === 'risk.breached')).toBe(true);
      expect(attempts[0]!.error).toMatch(/^webhook 127\.0\.0\.1:\d+: HTTP 503$/);
      expect(requests).toHaveLength(3);
      expect(requests[0]).toMatchObject({ path: '/hooks/secret-token-123', key: eventId, body: { severity: 'warning', subject: expect.stringContaining('risk limit breached (max_order_notional) on account acct-e') } });

      // The secret reached the webhook, and nowhere else: not the logs (which did record the
      // failed attempts), not the delivery log, not the audit trail.
      expect(logLines.filter((line) => line.includes('ops-webhook of risk.breached failed'))).toHaveLength(2);
      expect(logLines.join('\n')).not.toContain('secret-token');
      const stored = await db.admin.query(
        "SELECT (SELECT string_agg(to_jsonb(l)::text, '') FROM notification.notification_logs l) || (SELECT string_agg(to_jsonb(a)::text, '') FROM shared.audit_log a) AS text",
      );
      expect(stored.rows[0].text).toContain('ops-webhook');
      expect(stored.rows[0].text).not.toContain('secret-token');
    } finally {
      configureLogging({ level: 'silent' });
      server.close();
    }
  });

  it('a quiet period suppresses repeats of one event type; the log channel logs', async () => {
    await configs.add({ name: 'breach-log', channel: 'log', eventTypes: ['risk.breached'], minSeverity: 'info', quietPeriodSeconds: 600 });
    const ids = [await publishBreach('first'), await publishBreach('second'), await publishBreach('third')];
    await waitFor(async () => (await attemptsOf('breach-log')).length === 3 && (await attemptsOf('breach-log'))[0]!.status === 'sent');
    expect((await attemptsOf('breach-log')).map(({ eventId, status }) => [eventId, status])).toEqual([
      [ids[0], 'sent'],
      [ids[1], 'suppressed'],
      [ids[2], 'suppressed'],
    ]);
  });

  it('a poison event is dead-lettered and raises a notification through the default errors-to-log config', async () => {
    const [poison] = await publishPositionEvents(db.pools.services.logging, 1, 1, 'POISON');
    const consumer = await bus.subscribe({ group: 'test.poisoned', topics: ['positions'], pool: db.pools.services.analytics, pollIntervalMs: 50, retryDelayMs: 20, handle: failingOn(poison, recordingHandler('x')) });
    try {
      await waitFor(async () => (await attemptsOf('errors-to-log')).some((row) => row.eventType === 'consumer.dead_lettered' && row.status === 'sent'), { timeoutMs: 20_000 });
    } finally {
      await consumer.stop();
    }
    const { rows } = await db.admin.query("SELECT message FROM notification.notification_logs WHERE event_type = 'consumer.dead_lettered'");
    expect(rows[0].message).toMatchObject({ severity: 'error', subject: expect.stringContaining(`event position.changed ${poison} failed 3 times in consumer test.poisoned`) });
  });

  it('email goes out over SMTP with the stored (encrypted) credentials', async () => {
    const received: Array<{ user: string | undefined; data: string }> = [];
    const smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'alerts' && auth.password === 'p@ss word') callback(null, { user: auth.username });
        else callback(new Error('bad credentials'));
      },
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
        stream.on('end', () => {
          received.push({ user: session.user as string | undefined, data });
          callback();
        });
      },
    });
    smtp.listen(0, '127.0.0.1');
    await once(smtp.server, 'listening');
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      await configs.add({ name: 'ops-mail', channel: 'email', target: emailTarget(`smtp://alerts:p%40ss%20word@127.0.0.1:${port}`, 'tradedb@example.com', ['ops@example.com']), eventTypes: ['risk.breached'] });
      const stored = await db.admin.query("SELECT position('p@ss' IN encode(target_encrypted, 'escape')) AS found FROM notification.notification_configs WHERE name = 'ops-mail'");
      expect(stored.rows[0].found).toBe(0);
      await publishBreach('mail me');
      await waitFor(async () => received.length === 1, { timeoutMs: 20_000 });
      expect(received[0]!.user).toBe('alerts');
      expect(received[0]!.data).toMatch(/Subject: \[tradedb warning\] risk limit breached/);
      expect(received[0]!.data).toContain('mail me');
      await waitFor(async () => (await attemptsOf('ops-mail')).some((row) => row.status === 'sent'));
    } finally {
      smtp.close();
    }
  });

  it('bad configs are refused naming the field; a wrong key fails delivery without showing the target', async () => {
    await expect(configs.add({ name: 'x', channel: 'webhook', target: { url: 'ftp://example.com/x' } })).rejects.toThrow(/^target\.url: expected an http:\/\/ or https:\/\/ URL/);
    await expect(configs.add({ name: 'x', channel: 'log', eventTypes: ['order.exploded'] })).rejects.toThrow(/^eventTypes: unknown event type order\.exploded/);
    await expect(configs.add({ name: 'x', channel: 'email', target: { host: 'h', port: 25, from: 'not an address', to: ['a@b.c'] } })).rejects.toThrow(/^target\.from: expected a sender address/);
    await expect(configs.add({ name: 'breach-log', channel: 'log' })).rejects.toThrow(/exists already/);
    await expect(new NotificationConfigService(db.pools.services.notification, undefined).add({ name: 'x', channel: 'webhook', target: { url: 'https://example.com/x' } })).rejects.toBeInstanceOf(EncryptionKeyMissingError);
    expect((await configs.list()).map((row) => row.name)).not.toContain('x');

    // Stored under another key: the delivery cannot decrypt it, says so, and never shows the target.
    await new NotificationConfigService(db.pools.services.notification, 'another-key-0123456789').add({ name: 'other-key', channel: 'webhook', target: { url: 'https://example.com/other-secret' }, eventTypes: ['risk.breached'] });
    await publishBreach('undecryptable');
    await waitFor(async () => (await attemptsOf('other-key')).length === 3 && (await attemptsOf('other-key')).every((row) => row.status === 'failed'), { timeoutMs: 20_000 });
    const attempts = await attemptsOf('other-key');
    expect(attempts[0]!.error).toBe('the target cannot be decrypted: TRADEDB_ENCRYPTION_KEY is not the key it was stored with');
    expect(notifier.delivery.stats.givenUp).toBeGreaterThanOrEqual(1);
    await configs.setEnabled('other-key', false);
  });

  it.skipIf(unavailable !== undefined)('the redis channel publishes on its pub/sub channel (default <prefix>:notifications), and says so without Redis', async () => {
    const redis = await startPrivateRedis();
    const subscriber = new Redis(redis.url);
    const publisher = connectRedis(redis.url, 'test:notify');
    try {
      await redisReady(publisher);
      const received: Array<[string, string]> = [];
      subscriber.on('message', (channel, message) => received.push([channel, message]));
      await subscriber.subscribe('ops-alerts', 'tprefix:notifications');
      const eventId = randomUUID();
      const message = notificationMessage(
        { eventId, type: 'risk.breached', topic: 'risk', aggregate: { type: 'risk_event', id: '9', version: null }, occurredAt: new Date().toISOString(), correlationId: null, causationId: null, payload: { accountId: 'a', eventType: 'max_order_notional', detail: 'too big' } },
        'warning',
      );
      await sendNotification('redis', { channel: 'ops-alerts' }, message, { redis: publisher, redisPrefix: 'tprefix' });
      await sendNotification('redis', {}, message, { redis: publisher, redisPrefix: 'tprefix' });
      await waitFor(async () => received.length === 2);
      expect(received.map(([channel]) => channel)).toEqual(['ops-alerts', 'tprefix:notifications']);
      expect(JSON.parse(received[0]![1])).toMatchObject({ severity: 'warning', event: { eventId, type: 'risk.breached' } });
      await expect(sendNotification('redis', {}, message, { redisPrefix: 'tprefix' })).rejects.toThrow('the redis channel needs Redis: set REDIS_URL or REDIS_HOST');
    } finally {
      subscriber.disconnect();
      publisher.disconnect();
      await redis.stop();
    }
  });
});
