import type pg from 'pg';
import type { Config } from '../config/load-config.ts';
import { SCHEMAS, SERVICE_NAMES } from '../config/database-config.ts';
import type { Pools } from '../db/pools.ts';
import { withTransaction } from '../db/transaction.ts';
import { auditTrailHealth } from './audit-trail.ts';
import { collectRoleMatrix, MATRIX_ROLES, roleMatrixViolations } from './role-matrix.ts';
import { ENCRYPTED_COLUMNS, undecryptableSecrets } from './secret-rotation.ts';

export interface DoctorFinding {
  severity: 'error' | 'warning';
  check: string;
  detail: string;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);
/** Passwords an attacker tries first. */
const COMMON_PASSWORDS = new Set(['password', 'postgres', 'changeme', 'secret', 'admin', 'trading', '123456', 'letmein']);
const MIN_PASSWORD_LENGTH = 12;

/**
 * Everything that breaks the security rules of docs/security.md, read from the live database and
 * the configuration: a service or read-only role that is a superuser or bypasses row-level
 * security, an account-owned table (account_id NOT NULL) without row-level security, a grant missing or too
 * wide, weak or default passwords and no TLS on a server that is not local, secrets the current
 * key cannot open, an audited table without its audit trigger, audit rows long unsealed. An empty
 * list means healthy.
 */
export async function runDoctor(config: Config, pools: Pools, owner: pg.Pool): Promise<DoctorFinding[]> {
  const findings: DoctorFinding[] = [];
  const db = pools.services.logging;

  const powerful = await db.query<{ role: string; superuser: boolean; bypassrls: boolean }>(
    'SELECT rolname AS role, rolsuper AS superuser, rolbypassrls AS bypassrls FROM pg_roles WHERE rolname = ANY($1) AND (rolsuper OR rolbypassrls) ORDER BY 1',
    [[...MATRIX_ROLES, config.database.trading.owner.user]],
  );
  for (const row of powerful.rows) {
    findings.push({ severity: 'error', check: 'superuser', detail: `${row.role} is ${row.superuser ? 'a superuser' : 'allowed to bypass row-level security'}: run-time roles must be neither (ALTER ROLE ${row.role} NOSUPERUSER NOBYPASSRLS)` });
  }

  const unprotected = await db.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'account_id' AND a.attnotnull AND NOT a.attisdropped
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND (NOT c.relrowsecurity OR NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))
      ORDER BY 1`,
    [Object.values(SCHEMAS)],
  );
  for (const row of unprotected.rows) {
    findings.push({ severity: 'error', check: 'row-level security', detail: `${row.name} holds account rows (account_id NOT NULL) but has no row-level security policy in force` });
  }

  for (const violation of roleMatrixViolations(await collectRoleMatrix(db))) findings.push({ severity: 'error', check: 'grants', detail: violation });

  findings.push(...connectionFindings(config));

  const key = config.notifications.encryptionKey;
  const secrets = await withTransaction(
    owner,
    async (client) => {
      let stored = 0;
      for (const { table, column } of ENCRYPTED_COLUMNS) stored += (await client.query(`SELECT 1 FROM ${table} WHERE ${column} IS NOT NULL`)).rowCount ?? 0;
      return { stored, undecryptable: stored > 0 && key ? await undecryptableSecrets(client, key) : [] };
    },
    { readOnly: true },
  );
  if (secrets.stored > 0 && !key) findings.push({ severity: 'warning', check: 'secrets', detail: 'encrypted secrets are stored but TRADEDB_ENCRYPTION_KEY is not set: they cannot be used' });
  for (const name of secrets.undecryptable) findings.push({ severity: 'error', check: 'secrets', detail: `${name} does not decrypt with TRADEDB_ENCRYPTION_KEY` });

  const audit = await auditTrailHealth(owner);
  for (const table of audit.unaudited) findings.push({ severity: 'error', check: 'audit trail', detail: `${table} has no enabled audit_changes trigger: its changes are not recorded (SELECT shared.audit_table('${table}') as the owner)` });
  if (audit.staleUnsealed > 0) {
    findings.push({ severity: 'warning', check: 'audit trail', detail: `${audit.staleUnsealed} audit row(s) older than 5 minutes are not sealed: no sealer is running (npm start runs one; or run tradedb audit seal), or a transaction has been open that long` });
  }
  return findings;
}

/** Weak or missing passwords and plain connections, on a server that is not on this machine. */
export function connectionFindings(config: Pick<Config, 'database'>): DoctorFinding[] {
  const { server } = config.database;
  if (server.mode === 'embedded' || LOCAL_HOSTS.has(server.host)) return [];
  const findings: DoctorFinding[] = [];
  if (server.sslmode === 'disable' || server.sslmode === 'prefer') {
    findings.push({ severity: 'warning', check: 'TLS', detail: `POSTGRES_SSLMODE=${server.sslmode} to ${server.host}: passwords and data may cross the network in the clear; use require or verify-full` });
  }
  const logins: Array<{ user: string; password?: string | undefined }> = [
    config.database.trading.owner,
    ...SERVICE_NAMES.map((service) => config.database.services[service]),
    config.database.readonly,
    config.database.orchestration,
  ];
  for (const { user, password } of logins) {
    const weakness =
      password === undefined || password === ''
        ? 'has no password'
        : COMMON_PASSWORDS.has(password.toLowerCase()) || password.toLowerCase() === user.toLowerCase()
          ? 'has a default or guessable password'
          : password.length < MIN_PASSWORD_LENGTH
            ? `has a password shorter than ${MIN_PASSWORD_LENGTH} characters`
            : undefined;
    if (weakness) findings.push({ severity: 'error', check: 'passwords', detail: `${user} ${weakness} on the remote server ${server.host}` });
  }
  return findings;
}
