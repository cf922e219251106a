import type pg from 'pg';
import { listenForNotifications, type NotificationListener } from '../../db/notification-listener.ts';
import { Wakeup } from '../../events/wakeup.ts';
import { serviceLogger } from '../logging/logger.ts';
import { sendNotification, type ChannelContext } from './notification-channels.ts';
import { NOTIFICATION_WAKE_CHANNEL } from './notification-dispatcher.ts';
import type { NotificationMessage } from './notification-rules.ts';
import type { Channel, NotificationTarget } from './notification-target.ts';

export interface DeliveryOptions extends ChannelContext {
  /** The notification service's pool. */
  pool: pg.Pool;
  /** Decrypts webhook and email targets; without it they fail (and are retried). */
  encryptionKey?: string | undefined;
  /** Attempts of one notification before it is given up (default 5). */
  maxAttempts?: number | undefined;
  /** Wait before the second attempt, doubled for each next one, at most 5 minutes (default 2 s). */
  retryBaseMs?: number | undefined;
  /** Safety-net poll for due retries (default 1 s; queued notifications wake it at once). */
  pollIntervalMs?: number | undefined;
  onError?: ((error: Error) => void) | undefined;
}

interface DueNotification {
  id: number;
  configId: number;
  configName: string;
  channel: Channel;
  encrypted: boolean;
  eventId: string;
  eventType: string;
  severity: string;
  attempt: number;
  message: NotificationMessage;
}

const MAX_RETRY_DELAY_MS = 300_000;

/**
 * Sends the notifications the dispatcher queued: claims one due `pending` row at a time
 * (FOR UPDATE SKIP LOCKED, so several processes share the work and a process that dies mid-send
 * leaves its row pending for the others), sends it, and records the outcome in the same
 * transaction: `sent`, or `failed` with the error and the next attempt queued with backoff, until
 * maxAttempts. A crash between sending and committing sends that attempt again (webhooks carry the
 * event id as an idempotency key).
 */
export class NotificationDelivery {
  private readonly wakeup = new Wakeup();
  private listener: NotificationListener | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  readonly stats = { sent: 0, failed: 0, givenUp: 0 };

  constructor(private readonly options: DeliveryOptions) {}

  async start(): Promise<void> {
    this.listener = await listenForNotifications(this.options.pool, NOTIFICATION_WAKE_CHANNEL, () => this.wakeup.wake(), this.options.onError);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeup.wake();
    await this.loop;
    await this.listener?.close();
  }

  /** Sends every notification due now; returns how many attempts were made. */
  async deliverDue(): Promise<number> {
    let attempts = 0;
    while (!this.stopped && (await this.deliverOne())) attempts += 1;
    return attempts;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.deliverDue();
      } catch (error) {
        this.options.onError?.(error as Error);
      }
      await this.wakeup.wait(this.options.pollIntervalMs ?? 1_000);
    }
  }

  /** One due notification, start to finish, in one transaction; false when none is due. */
  private async deliverOne(): Promise<boolean> {
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<DueNotification>(
        `SELECT l.id::float8 AS id, l.config_id::float8 AS "configId", c.name AS "configName", c.channel, c.target_encrypted IS NOT NULL AS encrypted,
                l.event_id AS "eventId", l.event_type AS "eventType", l.severity, l.attempt, l.message
           FROM notification.notification_logs l JOIN notification.notification_configs c ON c.id = l.config_id
          WHERE l.status = 'pending' AND l.next_attempt_at <= now()
          ORDER BY l.next_attempt_at, l.id
          LIMIT 1
          FOR UPDATE OF l SKIP LOCKED`,
      );
      const due = rows[0];
      if (!due) {
        await client.query('COMMIT');
        return false;
      }
      const error = await this.attempt(client, due);
      await this.record(client, due, error);
      await client.query('COMMIT');
      return true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Decrypts the target and sends; the error message if that failed. */
  private async attempt(client: pg.PoolClient, due: DueNotification): Promise<string | undefined> {
    try {
      const target = due.encrypted ? await this.decryptTarget(client, due) : undefined;
      await sendNotification(due.channel, target, due.message, this.options);
      return undefined;
    } catch (error) {
      return (error as Error).message ?? String(error);
    }
  }

  private async decryptTarget(client: pg.PoolClient, due: DueNotification): Promise<NotificationTarget> {
    if (!this.options.encryptionKey) throw new Error('TRADEDB_ENCRYPTION_KEY is not set: the target cannot be decrypted');
    await client.query('SAVEPOINT decrypt_target');
    try {
      const { rows } = await client.query<{ target: string }>('SELECT shared.pgp_sym_decrypt(target_encrypted, $2) AS target FROM notification.notification_configs WHERE id = $1', [
        due.configId,
        this.options.encryptionKey,
      ]);
      await client.query('RELEASE SAVEPOINT decrypt_target');
      return JSON.parse(rows[0]!.target) as NotificationTarget;
    } catch {
      await client.query('ROLLBACK TO SAVEPOINT decrypt_target');
      // pgcrypto's own message says no more than this either; the key never appears.
      throw new Error('the target cannot be decrypted: TRADEDB_ENCRYPTION_KEY is not the key it was stored with');
    }
  }

  private async record(client: pg.PoolClient, due: DueNotification, error: string | undefined): Promise<void> {
    if (error === undefined) {
      await client.query("UPDATE notification.notification_logs SET status = 'sent', sent_at = now(), error = NULL WHERE id = $1", [due.id]);
      this.stats.sent += 1;
      return;
    }
    await client.query("UPDATE notification.notification_logs SET status = 'failed', error = $2 WHERE id = $1", [due.id, error]);
    this.stats.failed += 1;
    const logged = { config: due.configName, channel: due.channel, eventId: due.eventId, eventType: due.eventType, attempt: due.attempt, correlationId: due.message.event.correlationId ?? undefined };
    if (due.attempt >= (this.options.maxAttempts ?? 5)) {
      this.stats.givenUp += 1;
      serviceLogger('notification').error(logged, `notification ${due.configName} of ${due.eventType} ${due.eventId} given up after ${due.attempt} attempts: ${error}`);
      return;
    }
    const delayMs = Math.min(MAX_RETRY_DELAY_MS, (this.options.retryBaseMs ?? 2_000) * 2 ** (due.attempt - 1));
    await client.query(
      `INSERT INTO notification.notification_logs (config_id, event_id, event_type, severity, status, attempt, message, next_attempt_at)
       SELECT config_id, event_id, event_type, severity, 'pending', attempt + 1, message, now() + make_interval(secs => $2::float8 / 1000)
         FROM notification.notification_logs WHERE id = $1
       ON CONFLICT ON CONSTRAINT notification_logs_attempt_key DO NOTHING`,
      [due.id, delayMs],
    );
    serviceLogger('notification').warn(logged, `notification ${due.configName} of ${due.eventType} failed (attempt ${due.attempt}), retrying in ${delayMs / 1000} s: ${error}`);
  }
}
