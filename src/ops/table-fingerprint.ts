import { quoteIdentifier } from '../db/psql-script.ts';
import type { Queryable } from '../db/queryable.ts';

/** What a table held: its row count and an order-independent checksum of its rows. */
export interface TableFingerprint {
  rows: number;
  /** Sum of a 64-bit hash of each row's text, as a decimal string. */
  checksum: string;
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
 * Counts and checksums each table, in `db`'s current snapshot. One sequential scan per table,
 * no sort: a row's text hashed with hashtextextended, summed as numeric (no overflow).
 */
export async function fingerprintTables(db: Queryable, tables: string[], onTable?: (table: string) => void): Promise<Record<string, TableFingerprint>> {
  const result: Record<string, TableFingerprint> = {};
  for (const table of tables) {
    const [schema, name] = table.split('.') as [string, string];
    const { rows } = await db.query<{ rows: string; checksum: string }>(
      `SELECT count(*) AS rows, coalesce(sum(hashtextextended(t::text, 0)), 0)::text AS checksum FROM ${quoteIdentifier(schema)}.${quoteIdentifier(name)} AS t`,
    );
    result[table] = { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
    onTable?.(table);
  }
  return result;
}

