import { Option, type Command } from 'commander';
import { ApiTokenService, TOKEN_SCOPES, type ApiTokenRow } from '../../services/shared/api-token-service.ts';
import { withOwnerPool } from '../database-session.ts';
import { parseWholeNumber } from '../option-parsers.ts';
import { formatTable } from '../output-table.ts';

function state(row: ApiTokenRow): string {
  if (row.revokedAt) return `revoked ${row.revokedAt.toISOString()}`;
  if (row.expiresAt && row.expiresAt <= new Date()) return `expired ${row.expiresAt.toISOString()}`;
  return row.expiresAt ? `until ${row.expiresAt.toISOString()}` : 'active';
}

/** `tradedb tokens create|list|revoke`: bearer tokens of the HTTP API. */
export function registerTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('bearer tokens of the HTTP API: stored as a SHA-256 hash, shown once');
  tokens
    .command('create <name>')
    .description('make a token and print it (once: only its hash is stored)')
    .addOption(new Option('--scope <scope>', 'read: look; trade: also place and cancel orders; admin: everything').choices([...TOKEN_SCOPES]).makeOptionMandatory())
    .option('--expires-in-days <days>', 'stop working after this many days (default: until revoked)', parseWholeNumber)
    .action(async (name: string, options: { scope: string; expiresInDays?: number }) => {
      const { row, token } = await withOwnerPool((owner) => new ApiTokenService(owner).create({ name, scope: options.scope, expiresInDays: options.expiresInDays }));
      console.log(token);
      console.error(`token ${row.name} (${row.scope}) created, ${state(row)}. Keep it now: it cannot be shown again. Send it as "Authorization: Bearer <token>".`);
    });
  tokens
    .command('list')
    .description('every token: name, scope, state, last use (never the token)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withOwnerPool((owner) => new ApiTokenService(owner).list());
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(formatTable(['NAME', 'SCOPE', 'STATE', 'CREATED', 'LAST USED'], rows.map((row) => [row.name, row.scope, state(row), row.createdAt.toISOString(), row.lastUsedAt?.toISOString() ?? 'never'])));
    });
  tokens
    .command('revoke <name>')
    .description('stop a token at once')
    .action(async (name: string) => {
      const row = await withOwnerPool((owner) => new ApiTokenService(owner).revoke(name));
      console.log(`token ${row.name} ${state(row)}`);
    });
}
