import { z } from 'zod';
import { UserFacingError } from '../../db/errors.ts';

export const CHANNELS = ['webhook', 'email', 'log', 'redis'] as const;
export type Channel = (typeof CHANNELS)[number];

/** A notification config that cannot be stored as given; `field` names what is wrong. */
export class NotificationConfigError extends UserFacingError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'NotificationConfigError';
  }
}

const TARGETS = {
  webhook: z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }) }),
  email: z.strictObject({
    host: z.string().min(1, 'expected the SMTP server'),
    port: z.number().int().min(1).max(65535),
    /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    user: z.string().optional(),
    password: z.string().optional(),
    from: z.email({ error: 'expected a sender address' }),
    to: z.array(z.email({ error: 'expected recipient addresses' })).min(1, 'expected at least one recipient'),
  }),
  redis: z.strictObject({ channel: z.string().min(1).optional() }),
  log: z.undefined({ error: 'the log channel takes no target' }),
};

export type WebhookTarget = z.infer<typeof TARGETS.webhook>;
export type EmailTarget = z.infer<typeof TARGETS.email>;
export type RedisTarget = z.infer<typeof TARGETS.redis>;
export type NotificationTarget = WebhookTarget | EmailTarget | RedisTarget | undefined;

/** Checks `target` against its channel's shape (webhook URL, SMTP settings, Redis channel; none for log). */
export function parseTarget(channel: Channel, target: unknown): NotificationTarget {
  const parsed = TARGETS[channel].safeParse(target);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NotificationConfigError(['target', ...issue.path.map(String)].join('.'), issue.message);
  }
  return parsed.data;
}

/**
 * An email target from `smtp://user:password@host:port` (smtps:// for TLS from the start) and the
 * addresses; the password may be percent-encoded.
 */
export function emailTarget(smtpUrl: string, from: string, to: string[]): EmailTarget {
  if (!/^smtps?:\/\//.test(smtpUrl) || !URL.canParse(smtpUrl)) throw new NotificationConfigError('target.smtp', 'expected smtp://user:password@host:port or smtps://...');
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return parseTarget('email', {
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    user: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    from,
    to,
  }) as EmailTarget;
}
