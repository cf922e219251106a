import type { Command } from 'commander';
import { runDoctor } from '../../ops/doctor.ts';
import { withOwnerPool } from '../database-session.ts';

/** `tradedb doctor`: what breaks the security rules, or "healthy". */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check the security rules against the live database and configuration: no superuser or RLS-bypassing run-time role, row-level security on account tables, grants as designed, strong passwords and TLS on a remote server, secrets the key opens; exit 1 on any error')
    .option('--json', 'print the findings as JSON')
    .action(async (options: { json?: boolean }) => {
      const findings = await withOwnerPool((owner, pools, { config }) => runDoctor(config, pools, owner));
      if (options.json) console.log(JSON.stringify(findings, null, 2));
      else if (findings.length === 0) console.log('healthy: no superuser at run time, row-level security on every account table, grants as designed, secrets readable');
      else for (const finding of findings) console.log(`${finding.severity.toUpperCase().padEnd(8)}${finding.check.padEnd(20)}${finding.detail}`);
      if (findings.some((finding) => finding.severity === 'error')) process.exitCode = 1;
    });
}
