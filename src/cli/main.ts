import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load-config.ts';
import { UserFacingError } from '../db/errors.ts';
import { PsqlScriptError } from '../db/psql-runner.ts';
import { PsqlScriptSyntaxError } from '../db/psql-script.ts';
import { environmentHelp, registerConfigCommand } from './commands/config-command.ts';
import { registerSetupCommands } from './commands/setup-command.ts';
import { registerStartCommand } from './commands/start-command.ts';
import { registerStatusCommand } from './commands/status-command.ts';

const program = new Command()
  .name('tradedb')
  .description(
    'The database platform of a multi-service trading system: one PostgreSQL server with the trading ' +
      'database (eight service schemas) and the orchestration database. With no POSTGRES_HOST set, ' +
      'tradedb runs its own embedded PostgreSQL with data under .tradedb/.',
  )
  .option('--verbose', 'print stack traces and causes of errors')
  .showHelpAfterError()
  .addHelpText('after', `\nExamples:\n  tradedb start           set up and run (embedded PostgreSQL by default)\n  tradedb setup --dry-run list the SQL scripts that would run\n  tradedb status          health of every database and pool\n\n${environmentHelp()}`);

registerStartCommand(program);
registerSetupCommands(program);
registerStatusCommand(program);
registerConfigCommand(program);

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
  if (!(error instanceof CommanderError)) report(error);
  process.exitCode = error instanceof CommanderError ? error.exitCode : 1;
}
