import type { Command } from 'commander';
import { collectRoleMatrix, formatRoleMatrix } from '../../ops/role-matrix.ts';
import { withServicePools } from '../database-session.ts';

/** `tradedb roles`: the privilege matrix as the live database grants it. */
export function registerRolesCommand(program: Command): void {
  program
    .command('roles')
    .description('each service role and trading_readonly × each schema: SELECT, INSERT, UPDATE, DELETE as the database really grants them (a Markdown table, as in docs/security.md)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const matrix = await withServicePools((pools) => collectRoleMatrix(pools.services.logging));
      console.log(options.json ? JSON.stringify(matrix, null, 2) : formatRoleMatrix(matrix));
    });
}
