import { type Command, InvalidArgumentError } from 'commander';
import type { LogLevel } from '../../services/logging/database-log-sink.ts';
import { LOG_LEVELS, queryLogs, type LogLine } from '../../services/logging/log-query.ts';
import { withServicePools } from '../database-session.ts';
import { parseSince, parseWholeNumber } from '../option-parsers.ts';

function parseLevel(value: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return value as LogLevel;
}

function formatLine(line: LogLine): string {
  const context = Object.keys(line.context).length > 0 ? `  ${JSON.stringify(line.context)}` : '';
  return `${line.at}  ${line.level.toUpperCase().padEnd(5)} ${line.service.padEnd(15)} ${line.message}${context}`;
}

/** `tradedb logs`: the centralized log (logging.system_logs), filtered. */
export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description("every service's log lines from logging.system_logs, oldest first; with --correlation also that id's events and timed operations: a signal's whole path")
    .option('--correlation <id>', 'one correlation id (shown in log lines, events and `tradedb flows show`)')
    .option('--level <level>', `this level and above: ${LOG_LEVELS.join(', ')}`, parseLevel)
    .option('--service <name>', 'one service, e.g. execution, events, orchestration')
    .option('--since <when>', 'from a duration ago (15m, 2h, 7d), a date or an ISO time', parseSince)
    .option('--limit <n>', 'the newest n lines', parseWholeNumber, 200)
    .option('--json', 'one JSON object per line')
    .action(async (options: { correlation?: string; level?: LogLevel; service?: string; since?: Date; limit: number; json?: boolean }) => {
      const lines = await withServicePools((pools) =>
        queryLogs(pools.services.logging, { correlationId: options.correlation, minLevel: options.level, service: options.service, since: options.since, limit: options.limit }),
      );
      if (options.json) {
        for (const line of lines) console.log(JSON.stringify(line));
        return;
      }
      if (lines.length === 0) {
        console.error('no log lines match (service processes write them: npm start, tradedb relay, tradedb worker, and every command that changes data)');
        return;
      }
      for (const line of lines) console.log(formatLine(line));
    });
}
