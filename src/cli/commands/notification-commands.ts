import { type Command, Option } from 'commander';
import { EVENT_TYPES } from '../../events/event-catalog.ts';
import { NotificationConfigService, type NotificationConfigRow } from '../../services/notification/notification-config-service.ts';
import { notificationHistory } from '../../services/notification/notification-history.ts';
import { SEVERITIES, type Severity } from '../../services/notification/notification-rules.ts';
import { CHANNELS, emailTarget, NotificationConfigError, type Channel } from '../../services/notification/notification-target.ts';
import { startNotifier } from '../../services/notification/notifier.ts';
import { withServicePools } from '../database-session.ts';
import { formatTable } from '../output-table.ts';
import { parseList, parseWholeNumber } from '../option-parsers.ts';
import { waitForShutdown } from '../shutdown.ts';

interface AddOptions {
  channel: Channel;
  url?: string;
  smtp?: string;
  from?: string;
  to?: string[];
  redisChannel?: string;
  events?: string[];
  minSeverity: Severity;
  quiet: number;
}

/** The target the options describe for their channel, or a field-named error. */
function targetOf(options: AddOptions): unknown {
  switch (options.channel) {
    case 'webhook':
      if (!options.url) throw new NotificationConfigError('--url', 'the webhook channel needs --url https://...');
      return { url: options.url };
    case 'email':
      if (!options.smtp || !options.from || !options.to) throw new NotificationConfigError('--smtp/--from/--to', 'the email channel needs --smtp smtp://user:password@host:port, --from and --to');
      return emailTarget(options.smtp, options.from, options.to);
    case 'redis':
      return options.redisChannel ? { channel: options.redisChannel } : {};
    case 'log':
      return undefined;
  }
}

function formatConfigs(rows: NotificationConfigRow[]): string {
  return formatTable(
    ['NAME', 'CHANNEL', 'TARGET', 'EVENT TYPES', 'MIN SEVERITY', 'QUIET', 'ENABLED', 'VERSION'],
    rows.map((row) => [row.name, row.channel, row.hasTarget ? '(encrypted)' : '-', row.eventTypes.join(',') || 'all', row.minSeverity, `${row.quietPeriodSeconds} s`, row.enabled ? 'yes' : 'no', row.version]),
  );
}

/** `tradedb notifier` and `tradedb notifications add|list|enable|disable|log`. */
export function registerNotificationCommands(program: Command): void {
  program
    .command('notifier')
    .description('run only the notification service (dispatch events to the configs that want them, deliver with retries) until Ctrl-C; `npm start` runs one too')
    .action(async () => {
      await withServicePools(async (pools, { config }) => {
        const notifier = await startNotifier(config, pools);
        console.log('notifier running. Ctrl-C stops it.');
        await waitForShutdown();
        await notifier.stop();
        console.error(`notifier stopped: ${notifier.delivery.stats.sent} sent, ${notifier.delivery.stats.failed} failed attempts.`);
      }, 'service');
    });

  const notifications = program.command('notifications').description('where notifications go (webhook, email, log, Redis channel) and what was sent');
  notifications
    .command('add <name>')
    .description('add a notification config; webhook URLs and SMTP credentials are stored encrypted (needs TRADEDB_ENCRYPTION_KEY)')
    .addOption(new Option('--channel <channel>', 'where it goes').choices(CHANNELS).makeOptionMandatory())
    .option('--url <url>', 'webhook: the URL to POST the JSON notification to')
    .option('--smtp <url>', 'email: smtp://user:password@host:587 (smtps:// for TLS from the start)')
    .option('--from <address>', 'email: sender')
    .option('--to <addresses>', 'email: recipients, comma-separated', parseList)
    .option('--redis-channel <name>', 'redis: the pub/sub channel (default <TRADEDB_REDIS_PREFIX>:notifications)')
    .option('--events <types>', `only these event types, comma-separated (default all): ${EVENT_TYPES.join(', ')}`, parseList)
    .addOption(new Option('--min-severity <level>', 'this severity and above').choices(SEVERITIES).default('warning'))
    .option('--quiet <seconds>', 'after a notification of one event type, suppress more of that type for this long', parseWholeNumber, 0)
    .action(async (name: string, options: AddOptions) => {
      const row = await withServicePools(async (pools, { config }) =>
        new NotificationConfigService(pools.services.notification, config.notifications.encryptionKey).add({
          name,
          channel: options.channel,
          target: targetOf(options),
          eventTypes: options.events,
          minSeverity: options.minSeverity,
          quietPeriodSeconds: options.quiet,
        }),
      );
      console.log(`added notification config ${row.name} (${row.channel}${row.hasTarget ? ', target encrypted' : ''}): ${row.eventTypes.join(', ') || 'every event type'}, ${row.minSeverity} and above`);
    });

  notifications
    .command('list')
    .description('every notification config (targets are never shown)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withServicePools((pools, { config }) => new NotificationConfigService(pools.services.notification, config.notifications.encryptionKey).list());
      console.log(options.json ? JSON.stringify(rows, null, 2) : formatConfigs(rows));
    });

  for (const [command, enabled] of [['enable', true], ['disable', false]] as const) {
    notifications
      .command(`${command} <name>`)
      .description(`${command} a notification config`)
      .option('--version <n>', 'only if the config is still at this version', parseWholeNumber)
      .action(async (name: string, options: { version?: number }) => {
        const row = await withServicePools((pools, { config }) => new NotificationConfigService(pools.services.notification, config.notifications.encryptionKey).setEnabled(name, enabled, options.version));
        console.log(`${row.name} ${enabled ? 'enabled' : 'disabled'} (version ${row.version})`);
      });
  }

  notifications
    .command('log')
    .description('the newest delivery attempts: sent, failed (with the error), pending, suppressed')
    .option('--config <name>', 'one config only')
    .option('--limit <n>', 'how many', parseWholeNumber, 50)
    .option('--json', 'print JSON')
    .action(async (options: { config?: string; limit: number; json?: boolean }) => {
      const rows = await withServicePools((pools) => notificationHistory(pools.services.notification, { config: options.config, limit: options.limit }));
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      console.log(
        rows.length === 0
          ? '(none)'
          : formatTable(
              ['ID', 'CONFIG', 'EVENT', 'STATUS', 'ATTEMPT', 'SUBJECT / ERROR'],
              rows.map((row) => [row.id, row.config, row.eventType, row.status, row.attempt, row.error ?? row.subject]),
            ),
      );
    });
}
