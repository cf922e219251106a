import type { Redis } from 'ioredis';
import type { Config } from '../../config/load-config.ts';
import type { Pools } from '../../db/pools.ts';
import { createEventBus, type EventConsumer } from '../../events/event-bus.ts';
import { TOPICS } from '../../events/event-catalog.ts';
import { connectRedis } from '../../events/redis-connection.ts';
import { serviceLogger } from '../logging/logger.ts';
import { NotificationDelivery } from './notification-delivery.ts';
import { dispatchNotifications } from './notification-dispatcher.ts';

/** The consumer group of the notification service. */
export const NOTIFICATION_GROUP = 'notification.dispatch';

export interface RunningNotifier {
  delivery: NotificationDelivery;
  consumer: EventConsumer;
  stop(): Promise<void>;
}

/**
 * The notification service of a process: a consumer of every topic that queues notifications for
 * the configs that want each event (dead-lettered events included), and the delivery loop that
 * sends them with retries. Runs on the notification service's pool; `npm start` runs one.
 */
export async function startNotifier(config: Pick<Config, 'redis' | 'events' | 'notifications'>, pools: Pools): Promise<RunningNotifier> {
  const logger = serviceLogger('notification');
  const bus = createEventBus(config);
  const redis: Redis | undefined = config.redis.url ? connectRedis(config.redis.url, 'tradedb:notifier') : undefined;
  const delivery = new NotificationDelivery({
    pool: pools.services.notification,
    encryptionKey: config.notifications.encryptionKey,
    maxAttempts: config.notifications.maxAttempts,
    retryBaseMs: config.notifications.retryBaseMs,
    redis,
    redisPrefix: config.redis.prefix,
    onError: (error) => logger.warn({ err: error }, `notification delivery: ${error.message} (retrying)`),
  });
  let consumer: EventConsumer | undefined;
  try {
    consumer = await bus.subscribe({ group: NOTIFICATION_GROUP, topics: TOPICS, pool: pools.services.notification, handle: dispatchNotifications });
    await delivery.start();
  } catch (error) {
    await consumer?.stop();
    redis?.disconnect();
    await bus.close();
    throw error;
  }
  const started = consumer;
  return {
    delivery,
    consumer: started,
    async stop() {
      await started.stop();
      await delivery.stop();
      redis?.disconnect();
      await bus.close();
    },
  };
}
