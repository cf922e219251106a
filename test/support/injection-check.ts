/** One argument carrying the usual ways out of a string literal, identifier or dollar quote. */
export const INJECTION_PAYLOAD = `x'); DROP TABLE shared.accounts; --" OR 1=1 $$; DROP SCHEMA execution CASCADE; $$ \\' /*`;

/** Every table of the connected database with its row count: equal before and after means nothing was written. */
export async function tableRowCounts(db: { query(text: string): Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<Record<string, number>> {
  const { rows } = await db.query("SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables WHERE schemaname NOT IN ('public') ORDER BY 1");
  const counts: Record<string, number> = {};
  for (const { name } of rows as Array<{ name: string }>) counts[name] = Number((await db.query(`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n);
  return counts;
}
