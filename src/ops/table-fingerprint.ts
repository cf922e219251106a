import { quoteIdentifier } from '../db/psql-script.ts';
import type { Queryable } from '../db/queryable.ts';

/** How a table's rows were hashed: `record` by each column type's own hash function (hash_record_extended, the cheap way), `text` by the row's text (for tables with a column type that has no hash function, e.g. json). */
export type FingerprintMethod = 'record' | 'text';

/** What a table held: its row count and an order-independent checksum of its rows. */
export interface TableFingerprint {
  rows: number;
  /** Sum of a 64-bit hash of each row, as a decimal string. */
  checksum: string;
  method: FingerprintMethod;
}

/**
 * Settings under which a row's text is the same on any server and session: both the backup
 * (in its dump's snapshot) and the verification (in the restored copy) fingerprint under them.
 */
export const FINGERPRINT_SETTINGS = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

/** Ordinary and partitioned tables of `schemas` (a partition counts in its parent), as "schema.table". */
export async function tablesOf(db: Queryable, schemas: string[]): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY 1`,
    [schemas],
  );
  return rows.map((row) => row.name);
}

/** How many tables of `schemas` hold rows themselves (partitions, not their parents): what pg_dump copies. */
export async function countDataTables(db: Queryable, schemas: string[]): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    "SELECT count(*)::int AS count FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) AND c.relkind = 'r'",
    [schemas],
  );
  return rows[0]!.count;
}

/**
 * Counts and checksums each table, in `db`'s current snapshot: one sequential scan per table, no
 * sort, each row hashed (hash_record_extended; the same functions hash partitioning relies on to
 * stay stable across versions) and the hashes summed as numeric (no overflow). `methods` fixes the
 * method per table (verification uses the manifest's); otherwise `record` is tried first, inside a
 * savepoint (so `db` must be in a transaction), and `text` taken where a column type has no hash.
 */
export async function fingerprintTables(db: Queryable, tables: string[], methods?: Record<string, FingerprintMethod>): Promise<Record<string, TableFingerprint>> {
  const result: Record<string, TableFingerprint> = {};
  for (const table of tables) {
    const fixed = methods?.[table];
    if (fixed) {
      result[table] = await fingerprint(db, table, fixed);
      continue;
    }
    await db.query('SAVEPOINT fingerprint');
    try {
      result[table] = await fingerprint(db, table, 'record');
      await db.query('RELEASE SAVEPOINT fingerprint');
    } catch {
      // A column type without a hash function (json, point, ...): hash the row's text instead.
      await db.query('ROLLBACK TO SAVEPOINT fingerprint');
      result[table] = await fingerprint(db, table, 'text');
    }
  }
  return result;
}

async function fingerprint(db: Queryable, table: string, method: FingerprintMethod): Promise<TableFingerprint> {
  const [schema, name] = table.split('.') as [string, string];
  const hash = method === 'record' ? 'hash_record_extended(t, 0)' : 'hashtextextended(t::text, 0)';
  const { rows } = await db.query<{ rows: string; checksum: string }>(
    `SELECT count(*) AS rows, coalesce(sum(${hash}), 0)::text AS checksum FROM ${quoteIdentifier(schema)}.${quoteIdentifier(name)} AS t`,
  );
  return { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum, method };
}
