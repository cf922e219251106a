import { UserFacingError } from '../db/errors.ts';
import type { Queryable } from '../db/queryable.ts';

/**
 * The audit trail (migration 0010): shared.audit_log rows written by triggers on every audited
 * table, sealed into one SHA-256 hash chain per table by shared.seal_audit_log: each row's hash is
 * sha256(previous row's hash || shared.audit_content(row)), kept in blocks of one sealer run
 * (shared.audit_seal_blocks, migration 0019; per-row seals of 0010 in shared.audit_seals before
 * it) and listed row by row by shared.audit_chain(). Everything here runs as the owner role: no
 * service role may read the trail.
 */

/** The tables migration 0010 puts under audit: every table users or services change. */
export const AUDITED_TABLES = [
  'shared.accounts',
  'shared.system_config',
  'data_ingestion.symbols',
  'strategy_engine.strategies',
  'execution.orders',
  'execution.positions',
  'risk_management.risk_limits',
  'risk_management.position_limits',
  'notification.notification_configs',
  'shared.api_tokens',
];

/** Rows sealed by one transaction at most: a backlog is sealed over several, each one short. */
const SEAL_BATCH = 5_000;

/** A break in a chain, as shared.verify_audit_chain reports it. */
export interface AuditProblem {
  table: string;
  chainSeq: number | null;
  auditId: number | null;
  problem: string;
}

export interface AuditVerification {
  /** Rows sealed by this verification before checking (0 with seal: false). */
  sealed: number;
  /** Per audited table: seals in its chain and where the chain ends. */
  chains: Array<{ table: string; rows: number; lastSeq: number; lastHash: string; sealedAt: Date }>;
  /** Rows not sealed yet (their transactions were still running, or no sealer ran). */
  unsealed: number;
  problems: AuditProblem[];
}

/**
 * Seals every row that can be sealed now (shared.seal_audit_log: a row once every transaction
 * older than it has ended, per table in id order) and returns how many, a batch at a time (a
 * batch that seals more than SEAL_BATCH rows left more behind).
 */
export async function sealAuditLog(owner: Queryable): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await owner.query<{ sealed: number }>('SELECT shared.seal_audit_log($1) AS sealed', [SEAL_BATCH]);
    total += rows[0]!.sealed;
    if (rows[0]!.sealed <= SEAL_BATCH) return total;
  }
}

/** Audit rows not sealed yet: every row of a transaction at or above the sealer's progress (migration 0019). */
const UNSEALED_ROWS = 'SELECT count(*) FROM shared.audit_log a WHERE a.txid >= (SELECT sealed_below_txid FROM shared.audit_seal_state)';

/**
 * Recomputes every hash of every chain and reports what no longer matches: a changed row, a
 * deleted row, seals missing inside a chain, a row without its seal. Seals what can be sealed
 * first, unless told not to.
 */
export async function verifyAuditTrail(owner: Queryable, options: { seal?: boolean } = {}): Promise<AuditVerification> {
  const sealed = options.seal === false ? 0 : await sealAuditLog(owner);
  const problems = await owner.query<{ table: string; chainSeq: string | null; auditId: string | null; problem: string }>(
    `SELECT table_schema || '.' || table_name AS table, chain_seq AS "chainSeq", audit_id AS "auditId", problem
       FROM shared.verify_audit_chain()`,
  );
  const chains = await owner.query<{ table: string; rows: string; lastSeq: string; lastHash: string; sealedAt: Date }>(
    `SELECT DISTINCT ON (table_schema, table_name) table_schema || '.' || table_name AS table, chain_seq AS "lastSeq",
            encode(row_hash, 'hex') AS "lastHash", sealed_at AS "sealedAt", count(*) OVER (PARTITION BY table_schema, table_name) AS rows
       FROM shared.audit_chain()
      ORDER BY table_schema, table_name, chain_seq DESC`,
  );
  const unsealed = await owner.query<{ count: string }>(UNSEALED_ROWS);
  const number = (value: string | null): number | null => (value === null ? null : Number(value));
  return {
    sealed,
    chains: chains.rows.map((row) => ({ ...row, rows: Number(row.rows), lastSeq: Number(row.lastSeq) })),
    unsealed: Number(unsealed.rows[0]!.count),
    problems: problems.rows.map((row) => ({ ...row, chainSeq: number(row.chainSeq), auditId: number(row.auditId) })),
  };
}

/** One change of one row, as the trail recorded it. */
export interface AuditEntry {
  id: number;
  occurredAt: Date;
  operation: 'INSERT' | 'UPDATE' | 'DELETE';
  key: Record<string, string>;
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
  dbRole: string;
  actor: string | null;
  txid: number;
  chainSeq: number | null;
}

/** The audited tables, as schema.table, and each one's primary key columns. */
export async function auditedTables(owner: Queryable): Promise<Map<string, string[]>> {
  const { rows } = await owner.query<{ table: string; key: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS table,
            (SELECT array_agg(a.attname::text ORDER BY k.ordinality)
               FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k (attnum, ordinality)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary) AS key
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname = 'audit_changes' AND NOT t.tgisinternal
      ORDER BY 1`,
  );
  return new Map(rows.map((row) => [row.table, row.key]));
}

/**
 * The primary key a user names: a bare value for a one-column key (`42`), or `column=value`
 * pairs separated by commas for any key (`account_id=paper,id=42`). Every key column is needed.
 */
export function parseAuditKey(text: string, keyColumns: string[], table: string): Record<string, string> {
  const keyForm = keyColumns.map((column) => `${column}=VALUE`).join(',');
  let pairs: Array<[string, string]>;
  if (text.includes('=')) {
    pairs = text.split(',').map((part) => [part.slice(0, part.indexOf('=')).trim(), part.slice(part.indexOf('=') + 1).trim()]);
  } else if (keyColumns.length === 1) {
    pairs = [[keyColumns[0]!, text.trim()]];
  } else {
    throw new UserFacingError(`--key: ${table}'s key has several columns: give ${keyForm}`);
  }
  const key: Record<string, string> = {};
  for (const [column, value] of pairs) {
    if (!keyColumns.includes(column)) throw new UserFacingError(`--key: "${column}" is not a key column of ${table}: give ${keyForm}`);
    if (value === '') throw new UserFacingError(`--key: no value for ${column}`);
    key[column] = value;
  }
  const missing = keyColumns.filter((column) => !(column in key));
  if (missing.length > 0) throw new UserFacingError(`--key: ${table}'s key also needs ${missing.join(', ')}: give ${keyForm}`);
  return key;
}

/** Resolves `orders` or `execution.orders` to an audited table, or says which ones there are. */
export function resolveAuditedTable(name: string, tables: Map<string, string[]>): string {
  const matches = [...tables.keys()].filter((table) => table === name || table.endsWith(`.${name}`));
  if (matches.length === 1) return matches[0]!;
  throw new UserFacingError(
    matches.length === 0
      ? `--table: "${name}" is not audited; audited tables: ${[...tables.keys()].join(', ')}`
      : `--table: "${name}" is ambiguous: ${matches.join(', ')}`,
  );
}

/**
 * The audit rows of one row ($1 schema, $2 table, $3 key as jsonb), oldest first: found through
 * the row-history index by the hash of table and key (migration 0022), then matched exactly.
 */
export const ROW_HISTORY_SQL = `SELECT a.id, a.occurred_at AS "occurredAt", a.operation, a.row_key AS key, a.old_values AS "oldValues", a.new_values AS "newValues",
            a.db_role AS "dbRole", a.actor, a.txid, shared.audit_chain_seq(a.id) AS "chainSeq"
       FROM shared.audit_log a
      WHERE shared.audit_row_ref(a.table_schema, a.table_name, a.row_key) = shared.audit_row_ref($1, $2, $3::jsonb)
        AND a.table_schema = $1 AND a.table_name = $2 AND a.row_key = $3::jsonb
      ORDER BY a.id`;

/** A row's history, oldest change first. */
export async function auditHistory(owner: Queryable, tableName: string, keyText: string): Promise<{ table: string; key: Record<string, string>; entries: AuditEntry[] }> {
  const tables = await auditedTables(owner);
  const table = resolveAuditedTable(tableName, tables);
  const key = parseAuditKey(keyText, tables.get(table)!, table);
  const [schema, name] = table.split('.') as [string, string];
  const { rows } = await owner.query<AuditEntry & { id: string; txid: string; chainSeq: string | null }>(ROW_HISTORY_SQL, [schema, name, JSON.stringify(key)]);
  return {
    table,
    key,
    entries: rows.map((row) => ({ ...row, id: Number(row.id), txid: Number(row.txid), chainSeq: row.chainSeq === null ? null : Number(row.chainSeq) })),
  };
}

/** What `tradedb doctor` checks of the trail: audited tables whose trigger is gone or disabled, and rows waiting long for their seal. */
export async function auditTrailHealth(owner: Queryable, staleAfterSeconds = 300): Promise<{ unaudited: string[]; staleUnsealed: number }> {
  const unaudited = await owner.query<{ table: string }>(
    `SELECT t.name AS table FROM unnest($1::text[]) AS t (name)
      WHERE NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = to_regclass(t.name) AND g.tgname = 'audit_changes' AND g.tgenabled <> 'D')
      ORDER BY 1`,
    [AUDITED_TABLES],
  );
  const stale = await owner.query<{ count: string }>(`${UNSEALED_ROWS} AND a.occurred_at < now() - make_interval(secs => $1)`, [staleAfterSeconds]);
  return { unaudited: unaudited.rows.map((row) => row.table), staleUnsealed: Number(stale.rows[0]!.count) };
}
