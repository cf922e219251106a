import type { Queryable } from '../db/queryable.ts';

/**
 * `schemas` and every schema their objects depend on, transitively: foreign keys into other
 * schemas, trigger functions, column types and defaults, views, policies. A dump of `analytics`
 * alone would not restore (its foreign keys point at shared.accounts, its triggers call
 * shared.touch_updated_at), so a backup takes the closure. System schemas are left out.
 */
export async function schemaClosure(db: Queryable, schemas: string[]): Promise<string[]> {
  const { rows } = await db.query<{ schema: string }>(
    `WITH RECURSIVE edges AS (
       SELECT DISTINCT coalesce(dependent.schema, owner_namespace.nspname) AS from_schema, referenced.schema AS to_schema
         FROM pg_depend d
        CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) AS dependent
        CROSS JOIN LATERAL pg_identify_object(d.refclassid, d.refobjid, 0) AS referenced
         -- Defaults, rules, triggers and policies belong to no schema themselves: take their table's.
         LEFT JOIN LATERAL (
               SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = CASE d.classid
                                WHEN 'pg_attrdef'::regclass THEN (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = d.objid)
                                WHEN 'pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid)
                                WHEN 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = d.objid)
                                WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = d.objid)
                              END) AS owner_namespace ON true
        WHERE d.deptype IN ('n', 'a') AND referenced.schema IS NOT NULL
     ), closure (schema) AS (
       SELECT unnest($1::text[])
       UNION
       SELECT e.to_schema FROM edges e JOIN closure c ON e.from_schema = c.schema
     )
     SELECT schema FROM closure
      WHERE schema NOT IN ('pg_catalog', 'information_schema') AND schema NOT LIKE 'pg\\_toast%' AND schema NOT LIKE 'pg\\_temp%'
      ORDER BY schema`,
    [schemas],
  );
  return rows.map((row) => row.schema);
}

/** Every schema of the database but the system ones. */
export async function userSchemas(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
      ORDER BY nspname`,
  );
  return rows.map((row) => row.nspname);
}

/** Extensions installed into any of `schemas`: a schema-only dump leaves them out unless named. */
export async function extensionsIn(db: Queryable, schemas: string[]): Promise<string[]> {
  const { rows } = await db.query<{ extname: string }>(
    'SELECT e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = ANY($1) ORDER BY e.extname',
    [schemas],
  );
  return rows.map((row) => row.extname);
}
