import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load-config.ts';
import { UserFacingError } from '../db/errors.ts';
import { PsqlScriptError } from '../db/psql-runner.ts';
import { PsqlScriptSyntaxError } from '../db/psql-script.ts';
import { environmentHelp, registerConfigCommand } from './commands/config-command.ts';
import { registerSetupCommands } from './commands/setup-command.ts';
import { registerStartCommand } from './commands/start-command.ts';
import { registerStatusCommand } from './commands/status-command.ts';
import { registerBarsCommand } from './commands/bars-command.ts';
import { registerIngestCommand } from './commands/ingest-command.ts';
import { registerQualityCommand } from './commands/quality-command.ts';
import { registerSymbolsCommand } from './commands/symbols-command.ts';
import { registerTradingCommands } from './commands/trading-commands.ts';
import { registerBackupCommands } from './commands/backup-commands.ts';
import { registerFlowCommands } from './commands/flow-commands.ts';
import { registerMaintenanceCommand } from './commands/maintenance-command.ts';
import { registerEventCommands } from './commands/event-commands.ts';
import { registerLogsCommand } from './commands/logs-command.ts';
import { registerNotificationCommands } from './commands/notification-commands.ts';
import { registerSecretsCommand } from './commands/secrets-command.ts';
import { registerRolesCommand } from './commands/roles-command.ts';
import { registerDoctorCommand } from './commands/doctor-command.ts';
import { registerLineageCommand } from './commands/lineage-command.ts';
import { registerAuditCommand } from './commands/audit-command.ts';
import { registerTokenCommands } from './commands/token-commands.ts';
import { registerApiCommand } from './commands/api-command.ts';

const program = new Command()
  .name('tradedb')
  .description(
    'The database platform of a multi-service trading system: one PostgreSQL server with the trading ' +
      'database (eight service schemas) and the orchestration database. With no POSTGRES_HOST set, ' +
      'tradedb runs its own embedded PostgreSQL with data under .tradedb/.',
  )
  .option('--verbose', 'print stack traces and causes of errors')
  .showHelpAfterError()
  .addHelpText('after', `\nExamples:\n  tradedb start           set up and run (embedded PostgreSQL by default)\n  tradedb setup --dry-run list the SQL scripts that would run\n  tradedb status          health of every database and pool\n  tradedb ingest csv bars.csv --interval 1d --create-symbols\n  tradedb bars AAPL --interval 1d --from 2024-01-01\n\n${environmentHelp()}`);

registerStartCommand(program);
registerSetupCommands(program);
registerStatusCommand(program);
registerEventCommands(program);
registerLogsCommand(program);
registerNotificationCommands(program);
registerSecretsCommand(program);
registerRolesCommand(program);
registerDoctorCommand(program);
registerLineageCommand(program);
registerAuditCommand(program);
registerTokenCommands(program);
registerApiCommand(program);
registerConfigCommand(program);
registerSymbolsCommand(program);
registerIngestCommand(program);
registerBarsCommand(program);
registerQualityCommand(program);
registerTradingCommands(program);
registerBackupCommands(program);
registerFlowCommands(program);
registerMaintenanceCommand(program);

/** `tradedb bars ... | head` closes the pipe early: that is the reader's choice, not an error. */
function isClosedPipe(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'EPIPE';
}
// Ignored here, not exited on: the command's own stream fails with EPIPE and unwinds through
// its cleanup (pools closed, an embedded server stopped) before main() ends quietly.
process.stdout.on('error', (error) => {
  if (!isClosedPipe(error)) throw error;
});

/** Errors meant for people are printed alone; others too, with the stack only under --verbose. */
function report(error: unknown): void {
  const verbose = program.opts<{ verbose?: boolean }>().verbose || process.argv.includes('--verbose');
  const expected = error instanceof UserFacingError || error instanceof ConfigError || error instanceof PsqlScriptError || error instanceof PsqlScriptSyntaxError;
  const message = error instanceof Error ? error.message : String(error);
  console.error(`tradedb: ${message}`);
  if (verbose && error instanceof Error) {
    console.error(error.stack);
    if (error.cause) console.error('Caused by:', error.cause);
  } else if (!expected) {
    console.error('(run again with --verbose for details)');
  }
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (isClosedPipe(error)) process.exitCode = 0;
  else {
    if (!(error instanceof CommanderError)) report(error);
    process.exitCode = error instanceof CommanderError ? error.exitCode : 1;
  }
}
