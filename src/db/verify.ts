import path from 'node:path';
import type { Queryable } from './queryable.ts';
import { PsqlScriptError, runPsqlScript, type StatementOutcome } from './psql-runner.ts';

/** One line of 04's report: how many objects of a kind were expected, found, and which are missing. */
export interface VerifyLine {
  kind: string;
  expected: number;
  present: number;
  missing: string[];
}

export interface VerifyReport {
  ok: boolean;
  lines: VerifyLine[];
  /** 04's own failure message when it failed ("tradedb verify failed: ..."). */
  failure?: string;
}

/**
 * Runs sql/04_verify_setup.sql (the same file psql users run) on a superuser connection to the
 * trading database and returns its report: the last result set with kind/expected/present/missing
 * columns, and whether the script's final assertion passed.
 */
export async function runVerify(db: Queryable, variables: Record<string, string>, sqlDir: string): Promise<VerifyReport> {
  let report: StatementOutcome | undefined;
  const onStatement = (outcome: StatementOutcome) => {
    if (['kind', 'expected', 'present', 'missing'].every((field) => outcome.fields.includes(field))) report = outcome;
  };
  let failure: string | undefined;
  try {
    await runPsqlScript(db, path.join(sqlDir, '04_verify_setup.sql'), { variables, onStatement });
  } catch (error) {
    // P0001: the script's own RAISE EXCEPTION naming what is missing; anything else is a real error.
    if (!(error instanceof PsqlScriptError) || error.sqlstate !== 'P0001') throw error;
    failure = error.message.replace(/^.*?:\d+: /, '');
  }
  const lines = (report?.rows ?? []).map((row) => ({
    kind: String(row.kind),
    expected: Number(row.expected),
    present: Number(row.present),
    missing: String(row.missing ?? '')
      .split(', ')
      .filter(Boolean),
  }));
  return { ok: failure === undefined && lines.length > 0, lines, failure };
}

/** The report as aligned text for a terminal. */
export function formatVerifyReport(report: VerifyReport): string {
  const width = Math.max(4, ...report.lines.map((line) => line.kind.length));
  const rows = report.lines.map((line) => {
    const mark = line.present === line.expected ? 'ok  ' : 'FAIL';
    const missing = line.missing.length > 0 ? `  missing: ${line.missing.join(', ')}` : '';
    return `${mark} ${line.kind.padEnd(width)} ${String(line.present).padStart(4)}/${line.expected}${missing}`;
  });
  const total = report.lines.reduce((sum, line) => sum + line.expected, 0);
  const present = report.lines.reduce((sum, line) => sum + line.present, 0);
  rows.push(report.ok ? `All ${total} checks passed.` : `${total - present} of ${total} checks failed.${report.failure ? `\n${report.failure}` : ''}`);
  return rows.join('\n');
}
