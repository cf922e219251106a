import type { Command } from 'commander';
import { auditHistory, sealAuditLog, verifyAuditTrail, type AuditEntry } from '../../ops/audit-trail.ts';
import { startAuditSealer } from '../../ops/audit-sealer.ts';
import { withOwnerPool, withServicePools } from '../database-session.ts';
import { parseWholeNumber } from '../option-parsers.ts';
import { waitForShutdown } from '../shutdown.ts';

/** One line a change: when, what, who, and the changed values (old → new on updates). */
function formatEntry(entry: AuditEntry): string {
  const who = `${entry.dbRole}${entry.actor ? ` as ${entry.actor}` : ''}`;
  const values =
    entry.operation === 'UPDATE'
      ? Object.keys(entry.newValues ?? {})
          .map((column) => `${column}: ${JSON.stringify(entry.oldValues?.[column])} → ${JSON.stringify(entry.newValues?.[column])}`)
          .join(', ')
      : JSON.stringify(entry.operation === 'INSERT' ? entry.newValues : entry.oldValues);
  const sealed = entry.chainSeq === null ? ' (not sealed yet)' : '';
  return `${entry.occurredAt.toISOString()}  ${entry.operation.padEnd(6)}  ${who}  tx ${entry.txid}${sealed}\n    ${values}`;
}

/** `tradedb audit verify|show|seal`: the tamper-evident audit trail (shared.audit_log). */
export function registerAuditCommand(program: Command): void {
  const audit = program
    .command('audit')
    .description('the audit trail: every change to orders, positions, limits, strategies, config, symbols, notification configs and accounts, hash-chained per table');
  audit
    .command('verify')
    .description('seal what can be sealed, then recompute every hash of every chain: exit 1 naming each changed, missing or out-of-place row')
    .option('--no-seal', 'check only what is sealed already, write nothing')
    .option('--json', 'print JSON')
    .action(async (options: { seal: boolean; json?: boolean }) => {
      const result = await withOwnerPool((owner) => verifyAuditTrail(owner, { seal: options.seal }));
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else {
        for (const chain of result.chains) console.log(`${chain.table.padEnd(36)} ${String(chain.rows).padStart(9)} rows  ends at ${chain.lastSeq} ${chain.lastHash.slice(0, 16)}…`);
        if (result.unsealed > 0) console.log(`${result.unsealed} row(s) not sealed yet: their transactions were still running (run again to cover them)`);
        for (const problem of result.problems) console.log(`TAMPERED ${problem.table} #${problem.chainSeq}${problem.auditId === null ? '' : ` (audit id ${problem.auditId})`}: ${problem.problem}`);
        console.log(result.problems.length === 0 ? `audit trail intact: ${result.chains.reduce((sum, chain) => sum + chain.rows, 0)} row(s) in ${result.chains.length} chain(s) verified` : `audit trail BROKEN: ${result.problems.length} problem(s)`);
      }
      if (result.problems.length > 0) process.exitCode = 1;
    });
  audit
    .command('show')
    .description("a row's history: every insert, update (the changed columns, old → new) and delete, with who made it")
    .requiredOption('--table <name>', 'an audited table: orders, positions, risk_limits, position_limits, strategies, system_config, symbols, notification_configs, accounts (or schema.table)')
    .requiredOption('--key <key>', "the row's primary key: a value (42, AAPL) or column=value pairs for a key of several columns (account_id=paper-main,id=42)")
    .option('--json', 'print JSON')
    .action(async (options: { table: string; key: string; json?: boolean }) => {
      const history = await withOwnerPool((owner) => auditHistory(owner, options.table, options.key));
      if (options.json) console.log(JSON.stringify(history, null, 2));
      else if (history.entries.length === 0) console.log(`no recorded change of ${history.table} ${JSON.stringify(history.key)}`);
      else console.log(history.entries.map(formatEntry).join('\n'));
    });
  audit
    .command('sealer')
    .description('run only the audit sealer until Ctrl-C (`npm start` runs one; `--no-audit-sealer` leaves it out there)')
    .option('--interval <ms>', 'pause between seals', parseWholeNumber, 1000)
    .action(async (options: { interval: number }) => {
      await withServicePools(async (_pools, { server }) => {
        const sealer = startAuditSealer(server.config, { intervalMs: options.interval });
        console.log(`audit sealer running (every ${options.interval} ms). Ctrl-C stops it.`);
        const signal = await waitForShutdown();
        console.error(`${signal} received, stopping the audit sealer ...`);
        await sealer.stop();
        console.error(`audit sealer stopped after sealing ${sealer.sealed} rows.`);
      }, 'service');
    });
  audit
    .command('seal')
    .description('add every finished change to its hash chain now (`npm start` does this every second)')
    .action(async () => {
      const sealed = await withOwnerPool((owner) => sealAuditLog(owner));
      console.log(`${sealed} row(s) sealed`);
    });
}
