import type { Command } from 'commander';
import { runSetup, type SetupReport } from '../../db/setup.ts';
import { formatVerifyReport, runVerify } from '../../db/verify.ts';
import { connectAdmin, scriptVariables, SQL_DIR } from '../../db/setup.ts';
import { withDatabaseServer } from '../database-session.ts';

export function formatSetupReport(report: SetupReport, dryRun: boolean): string {
  const lines = [`PostgreSQL ${report.serverVersion}`];
  for (const step of report.steps) {
    const state = dryRun ? (step.state === 'pending' ? 'would apply' : 'applied    ') : report.applied.includes(step.script) ? 'applied now' : 'up to date ';
    lines.push(`  ${state}  sql/${step.script}`);
  }
  if (report.passwordsSet.length > 0) lines.push(`Passwords set for: ${report.passwordsSet.join(', ')}`);
  if (report.verify) lines.push(formatVerifyReport(report.verify));
  if (!dryRun) lines.push(`Setup finished in ${(report.durationMs / 1000).toFixed(2)} s.`);
  return lines.join('\n');
}

export function registerSetupCommands(program: Command): void {
  program
    .command('setup')
    .description('create both databases, the roles and every table (Option 1: applies sql/01-03 and sql/migrations/ once each, then verifies with 04)')
    .option('--dry-run', 'list the scripts that would run, change nothing')
    .action(async (options: { dryRun?: boolean }) => {
      await withDatabaseServer(async ({ server }) => {
        const report = await runSetup(server.config, { dryRun: options.dryRun, log: (line) => console.error(line) });
        console.log(formatSetupReport(report, Boolean(options.dryRun)));
        if (report.verify && !report.verify.ok) process.exitCode = 1;
      });
    });

  program
    .command('verify')
    .description('run sql/04_verify_setup.sql and print which objects are present or missing')
    .action(async () => {
      await withDatabaseServer(async ({ server }) => {
        const admin = await connectAdmin(server.config, server.config.trading.database);
        try {
          const report = await runVerify(admin, scriptVariables(server.config), SQL_DIR);
          console.log(formatVerifyReport(report));
          if (!report.ok) process.exitCode = 1;
        } finally {
          await admin.end();
        }
      });
    });
}
