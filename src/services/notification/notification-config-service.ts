import type pg from 'pg';
import { UserFacingError } from '../../db/errors.ts';
import { EVENT_TYPES } from '../../events/event-catalog.ts';
import { SEVERITIES, type Severity } from './notification-rules.ts';
import { CHANNELS, NotificationConfigError, parseTarget, type Channel } from './notification-target.ts';

export interface NotificationConfigInput {
  name: string;
  channel: Channel;
  /** Webhook { url }, email { host, port, user, password, from, to }, redis { channel? }; none for log. Stored encrypted. */
  target?: unknown;
  /** Empty: every event type. */
  eventTypes?: string[] | undefined;
  minSeverity?: Severity | undefined;
  /** After a notification of one event type, more of that type within this many seconds are suppressed. */
  quietPeriodSeconds?: number | undefined;
}

/** A stored config, without its target (which only the delivery decrypts). */
export interface NotificationConfigRow {
  id: number;
  name: string;
  channel: Channel;
  hasTarget: boolean;
  eventTypes: string[];
  minSeverity: Severity;
  quietPeriodSeconds: number;
  enabled: boolean;
  version: number;
}

const COLUMNS = `id::float8 AS id, name, channel, target_encrypted IS NOT NULL AS "hasTarget", event_types AS "eventTypes", min_severity AS "minSeverity",
  extract(epoch FROM quiet_period)::float8 AS "quietPeriodSeconds", enabled, version`;

/** Missing TRADEDB_ENCRYPTION_KEY where a target must be encrypted or decrypted. */
export class EncryptionKeyMissingError extends UserFacingError {
  constructor(what: string) {
    super(`TRADEDB_ENCRYPTION_KEY is not set: it is needed to ${what} (notification targets are stored encrypted). Set it to a long random string, the same for every tradedb process.`);
    this.name = 'EncryptionKeyMissingError';
  }
}

/**
 * notification.notification_configs: where notifications go and which events they take. Targets
 * (webhook URLs, SMTP passwords) are encrypted with pgcrypto's pgp_sym_encrypt under
 * TRADEDB_ENCRYPTION_KEY, sent as a query parameter, never logged, never read back here.
 */
export class NotificationConfigService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly encryptionKey: string | undefined,
  ) {}

  async add(input: NotificationConfigInput): Promise<NotificationConfigRow> {
    if (input.name.trim() === '') throw new NotificationConfigError('name', 'must not be empty');
    if (!CHANNELS.includes(input.channel)) throw new NotificationConfigError('channel', `expected one of ${CHANNELS.join(', ')}`);
    const target = parseTarget(input.channel, input.target);
    const unknownTypes = (input.eventTypes ?? []).filter((type) => !(EVENT_TYPES as string[]).includes(type));
    if (unknownTypes.length > 0) throw new NotificationConfigError('eventTypes', `unknown event type ${unknownTypes.join(', ')} (known: ${EVENT_TYPES.join(', ')})`);
    if (input.minSeverity !== undefined && !SEVERITIES.includes(input.minSeverity)) throw new NotificationConfigError('minSeverity', `expected one of ${SEVERITIES.join(', ')}`);
    const quiet = input.quietPeriodSeconds ?? 0;
    if (!Number.isFinite(quiet) || quiet < 0) throw new NotificationConfigError('quietPeriod', 'expected zero or more seconds');
    if (target !== undefined && !this.encryptionKey) throw new EncryptionKeyMissingError(`store the ${input.channel} target of ${input.name}`);
    const { rows } = await this.pool.query<NotificationConfigRow>(
      `INSERT INTO notification.notification_configs (name, channel, target_encrypted, event_types, min_severity, quiet_period)
       VALUES ($1, $2, CASE WHEN $3::text IS NULL THEN NULL ELSE shared.pgp_sym_encrypt($3::text, $4::text) END, $5, $6, make_interval(secs => $7))
       ON CONFLICT (name) DO NOTHING
       RETURNING ${COLUMNS}`,
      [input.name, input.channel, target === undefined ? null : JSON.stringify(target), this.encryptionKey ?? null, input.eventTypes ?? [], input.minSeverity ?? 'warning', quiet],
    );
    if (!rows[0]) throw new NotificationConfigError('name', `a notification config named ${JSON.stringify(input.name)} exists already`);
    return rows[0];
  }

  async list(): Promise<NotificationConfigRow[]> {
    return (await this.pool.query<NotificationConfigRow>(`SELECT ${COLUMNS} FROM notification.notification_configs ORDER BY id`)).rows;
  }

  /** Turns a config on or off (optimistic: at `expectedVersion` when given). */
  async setEnabled(name: string, enabled: boolean, expectedVersion?: number): Promise<NotificationConfigRow> {
    const { rows } = await this.pool.query<NotificationConfigRow>(
      `UPDATE notification.notification_configs SET enabled = $2, version = version + 1
        WHERE name = $1 AND ($3::int IS NULL OR version = $3) RETURNING ${COLUMNS}`,
      [name, enabled, expectedVersion ?? null],
    );
    if (rows[0]) return rows[0];
    const exists = await this.pool.query('SELECT version FROM notification.notification_configs WHERE name = $1', [name]);
    if (exists.rows.length === 0) throw new NotificationConfigError('name', `no notification config named ${JSON.stringify(name)}`);
    throw new UserFacingError(`Notification config ${name} was changed by someone else (now at version ${exists.rows[0].version}, you read ${expectedVersion}); read it again.`);
  }
}
