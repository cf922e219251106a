import type { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { serviceLogger } from '../logging/logger.ts';
import type { NotificationMessage } from './notification-rules.ts';
import type { Channel, EmailTarget, NotificationTarget, RedisTarget, WebhookTarget } from './notification-target.ts';

/** What the channels need besides their target. */
export interface ChannelContext {
  /** For the redis channel; undefined when no Redis is configured. */
  redis?: Redis | undefined;
  /** Default Redis channel: `<prefix>:notifications`. */
  redisPrefix: string;
  /** Per attempt (default 10 s). */
  timeoutMs?: number | undefined;
}

/**
 * Sends one notification; throws when the channel did not take it. Error messages never carry a
 * webhook URL's path or query (where services put their tokens) nor SMTP credentials.
 */
export async function sendNotification(channel: Channel, target: NotificationTarget, message: NotificationMessage, context: ChannelContext): Promise<void> {
  const timeoutMs = context.timeoutMs ?? 10_000;
  switch (channel) {
    case 'log':
      return logNotification(message);
    case 'webhook':
      return postWebhook(target as WebhookTarget, message, timeoutMs);
    case 'email':
      return sendEmail(target as EmailTarget, message, timeoutMs);
    case 'redis':
      return publishToRedis(target as RedisTarget, message, context);
  }
}

function logNotification(message: NotificationMessage): void {
  const logger = serviceLogger('notification');
  const fields = { eventId: message.event.eventId, eventType: message.event.type, severity: message.severity };
  if (message.severity === 'info') logger.info(fields, message.subject);
  else if (message.severity === 'warning') logger.warn(fields, message.subject);
  else logger.error(fields, message.subject);
}

async function postWebhook(target: WebhookTarget, message: NotificationMessage, timeoutMs: number): Promise<void> {
  const host = new URL(target.url).host;
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      // The event id lets a receiver drop a delivery repeated after a crash mid-attempt.
      headers: { 'content-type': 'application/json', 'idempotency-key': message.event.eventId },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(`webhook ${host}: ${(error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (error as Error).message)}`);
  }
  await response.body?.cancel();
  if (!response.ok) throw new Error(`webhook ${host}: HTTP ${response.status}`);
}

async function sendEmail(target: EmailTarget, message: NotificationMessage, timeoutMs: number): Promise<void> {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: target.secure,
    auth: target.user ? { user: target.user, pass: target.password ?? '' } : undefined,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  try {
    await transport.sendMail({ from: target.from, to: target.to, subject: message.subject, text: message.text });
  } catch (error) {
    throw new Error(`email via ${target.host}:${target.port}: ${(error as Error).message}`);
  } finally {
    transport.close();
  }
}

async function publishToRedis(target: RedisTarget, message: NotificationMessage, context: ChannelContext): Promise<void> {
  if (!context.redis) throw new Error('the redis channel needs Redis: set REDIS_URL or REDIS_HOST');
  await context.redis.publish(target?.channel ?? `${context.redisPrefix}:notifications`, JSON.stringify(message));
}
