import type { Queryable } from '../db/queryable.ts';
import { READONLY_ROLE, SCHEMAS, SERVICE_NAMES, serviceRole } from '../config/database-config.ts';

export const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
export type TablePrivilege = (typeof TABLE_PRIVILEGES)[number];

/** How much of a schema's tables a role may touch with one privilege. */
export type Coverage = 'all' | 'some' | 'none';

export interface RoleMatrix {
  roles: string[];
  schemas: string[];
  /** cells[role][schema][privilege], over the schema's tables but the owner's own. */
  cells: Record<string, Record<string, Record<TablePrivilege, Coverage>>>;
  /** Per owner-only table, the roles holding any privilege on it (should be none). */
  ownerOnly: Record<string, string[]>;
}

/**
 * Tables no service or reader may touch: the audit trail (migration 0010), whose old and new
 * values are account data that row-level security guards elsewhere, and the API tokens (0011).
 */
export const OWNER_ONLY_TABLES = ['shared.audit_log', 'shared.audit_seals', 'shared.audit_seal_blocks', 'shared.audit_seal_state', 'shared.api_tokens'];

/** The login roles of the services and the read-only role, as setup names them. */
export const MATRIX_ROLES = [...SERVICE_NAMES.map(serviceRole), READONLY_ROLE];

/**
 * Each role × each schema × SELECT/INSERT/UPDATE/DELETE, read from the live database
 * (has_table_privilege over the schema's tables and partitioned tables, partitions left out):
 * what the grants really allow, not what setup meant them to.
 */
export async function collectRoleMatrix(db: Queryable, roles: string[] = MATRIX_ROLES): Promise<RoleMatrix> {
  const schemas = Object.values(SCHEMAS);
  const { rows } = await db.query<{ role: string; schema: string; privilege: TablePrivilege; granted: number; tables: number }>(
    `SELECT r.role, n.nspname AS schema, p.privilege,
            count(*) FILTER (WHERE has_table_privilege(r.role, c.oid, p.privilege))::int AS granted, count(*)::int AS tables
       FROM unnest($1::text[]) AS r (role)
      CROSS JOIN unnest($3::text[]) AS p (privilege)
       JOIN pg_namespace n ON n.nspname = ANY($2::text[])
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      WHERE format('%s.%s', n.nspname, c.relname) <> ALL ($4::text[])
      GROUP BY 1, 2, 3`,
    [roles, schemas, TABLE_PRIVILEGES, OWNER_ONLY_TABLES],
  );
  // The owner-only tables and every partition of them.
  const ownerOnly = await db.query<{ table: string; roles: string[] }>(
    `SELECT t.name AS table, coalesce(array_agg(DISTINCT r.role) FILTER (WHERE r.role IS NOT NULL), '{}') AS roles
       FROM unnest($2::text[]) AS t (name)
       LEFT JOIN LATERAL (SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass(t.name)
                          UNION ALL SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = to_regclass(t.name)) AS part ON true
       LEFT JOIN unnest($1::text[]) AS r (role) ON has_table_privilege(r.role, part.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
      GROUP BY 1 ORDER BY 1`,
    [roles, OWNER_ONLY_TABLES],
  );
  const cells: RoleMatrix['cells'] = {};
  for (const role of roles) {
    cells[role] = {};
    for (const schema of schemas) cells[role]![schema] = { SELECT: 'none', INSERT: 'none', UPDATE: 'none', DELETE: 'none' };
  }
  for (const row of rows) cells[row.role]![row.schema]![row.privilege] = row.granted === 0 ? 'none' : row.granted === row.tables ? 'all' : 'some';
  return { roles, schemas, cells, ownerOnly: Object.fromEntries(ownerOnly.rows.map((row) => [row.table, row.roles])) };
}

/**
 * The matrix as a Markdown table: per cell the letters S I U D of the privileges held on every
 * table of the schema, lower case where only on some, "–" for none.
 */
export function formatRoleMatrix(matrix: RoleMatrix): string {
  const letters = (cell: Record<TablePrivilege, Coverage>): string =>
    TABLE_PRIVILEGES.map((privilege) => (cell[privilege] === 'all' ? privilege[0] : cell[privilege] === 'some' ? privilege[0]!.toLowerCase() : '')).join('') || '–';
  return [
    `| role | ${matrix.schemas.join(' | ')} |`,
    `|---|${matrix.schemas.map(() => '---').join('|')}|`,
    ...matrix.roles.map((role) => `| ${role} | ${matrix.schemas.map((schema) => letters(matrix.cells[role]![schema]!)).join(' | ')} |`),
  ].join('\n');
}

/**
 * Where the matrix breaks the policy: each service role holds every privilege on every table of
 * its own schema, writes no other schema, and reads `shared`; trading_readonly reads every schema
 * and writes none; nobody touches the owner-only tables. (Which other schemas a service may read
 * is setup's grant matrix; not checked here.)
 */
export function roleMatrixViolations(matrix: RoleMatrix): string[] {
  const violations: string[] = [];
  const expect = (role: string, schema: string, privilege: TablePrivilege, wanted: Coverage): void => {
    const held = matrix.cells[role]?.[schema]?.[privilege];
    if (held !== undefined && held !== wanted) violations.push(`${role} has ${privilege} on ${held === 'none' ? 'no' : held} table(s) of ${schema}; expected ${wanted}`);
  };
  for (const service of SERVICE_NAMES) {
    const role = serviceRole(service);
    for (const schema of matrix.schemas) {
      for (const privilege of ['INSERT', 'UPDATE', 'DELETE'] as const) expect(role, schema, privilege, schema === SCHEMAS[service] ? 'all' : 'none');
    }
    expect(role, SCHEMAS[service], 'SELECT', 'all');
    expect(role, 'shared', 'SELECT', 'all');
  }
  for (const schema of matrix.schemas) {
    expect(READONLY_ROLE, schema, 'SELECT', 'all');
    for (const privilege of ['INSERT', 'UPDATE', 'DELETE'] as const) expect(READONLY_ROLE, schema, privilege, 'none');
  }
  for (const [table, holders] of Object.entries(matrix.ownerOnly)) {
    for (const role of holders) violations.push(`${role} has access to ${table} (or a partition of it); only the owner may`);
  }
  return violations;
}
