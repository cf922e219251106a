import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { isServerError } from './errors.ts';
import { interpolate, parsePsqlScript, psqlBoolean, PsqlScriptSyntaxError, type ScriptItem } from './psql-script.ts';
import type { Queryable } from './queryable.ts';

/** One statement the script ran, with what the server returned. */
export interface StatementOutcome {
  file: string;
  line: number;
  command: string;
  rowCount: number | null;
  fields: string[];
  rows: Record<string, unknown>[];
}

export interface RunPsqlScriptOptions {
  /** psql -v values; the script may \set more. */
  variables?: Record<string, string>;
  /** Called after every statement, in order. */
  onStatement?: (outcome: StatementOutcome) => void;
  /** Where \echo goes; default nowhere. */
  onEcho?: (text: string) => void;
}

/** A statement of a script failed; names the file and line, like psql does. */
export class PsqlScriptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly sqlstate: string | undefined,
    serverMessage: string,
    detail?: string,
    hint?: string,
  ) {
    super(`${file}:${line}: ${serverMessage}${detail ? `\nDETAIL: ${detail}` : ''}${hint ? `\nHINT: ${hint}` : ''}`);
    this.name = 'PsqlScriptError';
  }
}

/**
 * Runs a psql script file on `db`, statement by statement, with psql's semantics for the
 * supported subset (see psql-script.ts): each statement is its own implicit transaction
 * unless the caller wraps the whole run in one; `\gexec` runs every value the query returned.
 */
export async function runPsqlScript(db: Queryable, file: string, options: RunPsqlScriptOptions = {}): Promise<StatementOutcome[]> {
  const variables = new Map(Object.entries(options.variables ?? {}));
  const outcomes: StatementOutcome[] = [];
  await runItems(db, path.resolve(file), variables, options, outcomes);
  return outcomes;
}

async function runItems(
  db: Queryable,
  file: string,
  variables: Map<string, string>,
  options: RunPsqlScriptOptions,
  outcomes: StatementOutcome[],
): Promise<void> {
  const items = parsePsqlScript(readFileSync(file, 'utf8'), file);
  // One entry per open \if: is its current branch running, and has any branch run yet?
  const branches: { active: boolean; taken: boolean }[] = [];
  const running = () => branches.every((branch) => branch.active);

  for (const item of items) {
    if (item.kind === 'meta' && ['if', 'elif', 'else', 'endif'].includes(item.command)) {
      applyConditional(item, branches, variables, file, running);
      continue;
    }
    if (!running()) continue;
    if (item.kind === 'meta') {
      await runMeta(db, item, file, variables, options, outcomes);
      continue;
    }
    const sql = interpolate(item.parts, variables);
    const result = await execute(db, sql, file, item);
    const outcome = record(result, file, item.line, options, outcomes);
    if (item.gexec) {
      for (const row of outcome.rows) {
        for (const value of Object.values(row)) {
          if (value !== null) record(await execute(db, String(value), file, { line: item.line }), file, item.line, options, outcomes);
        }
      }
    }
  }
  if (branches.length > 0) throw new PsqlScriptSyntaxError('\\if without \\endif', file, items.at(-1)?.line ?? 1);
}

function applyConditional(
  item: Extract<ScriptItem, { kind: 'meta' }>,
  branches: { active: boolean; taken: boolean }[],
  variables: Map<string, string>,
  file: string,
  running: () => boolean,
): void {
  const condition = () => psqlBoolean(interpolate(item.args, variables), file, item.line);
  const current = branches.at(-1);
  if (item.command === 'if') {
    const enclosingRuns = running();
    const active = enclosingRuns && condition();
    // A branch nested in a skipped one counts as taken, so none of its branches run.
    branches.push({ active, taken: active || !enclosingRuns });
    return;
  }
  if (!current) throw new PsqlScriptSyntaxError(`\\${item.command} without \\if`, file, item.line);
  if (item.command === 'endif') {
    branches.pop();
  } else {
    current.active = !current.taken && (item.command === 'else' || condition());
    current.taken ||= current.active;
  }
}

async function runMeta(
  db: Queryable,
  item: Extract<ScriptItem, { kind: 'meta' }>,
  file: string,
  variables: Map<string, string>,
  options: RunPsqlScriptOptions,
  outcomes: StatementOutcome[],
): Promise<void> {
  const args = item.args.map((arg) => interpolate([arg], variables));
  switch (item.command) {
    case 'ir':
    case 'include_relative': {
      if (!args[0]) throw new PsqlScriptSyntaxError(`\\${item.command} needs a file name`, file, item.line);
      await runItems(db, path.resolve(path.dirname(file), args[0]), variables, options, outcomes);
      return;
    }
    case 'set':
      if (!args[0]) throw new PsqlScriptSyntaxError('\\set needs a variable name', file, item.line);
      variables.set(args[0], args.slice(1).join(''));
      return;
    case 'unset':
      if (args[0]) variables.delete(args[0]);
      return;
    case 'echo':
      options.onEcho?.(args.join(' '));
      return;
    default:
      throw new PsqlScriptSyntaxError(`psql command \\${item.command} is not supported here`, file, item.line);
  }
}

/**
 * Runs one statement; a server error becomes a PsqlScriptError at the failing line: the error's
 * character position counted from where the statement's text begins (`textLine`), or else the
 * statement's first line. Statements made by \gexec have no text in the file: no textLine.
 */
async function execute(db: Queryable, sql: string, file: string, at: { line: number; textLine?: number }): Promise<pg.QueryResult> {
  try {
    return await db.query(sql);
  } catch (error) {
    if (!isServerError(error)) throw error;
    const line =
      error.position && at.textLine !== undefined ? at.textLine + (sql.slice(0, Number(error.position) - 1).match(/\n/g)?.length ?? 0) : at.line;
    throw new PsqlScriptError(file, line, error.code, error.message, error.detail, error.hint);
  }
}

function record(result: pg.QueryResult, file: string, line: number, options: RunPsqlScriptOptions, outcomes: StatementOutcome[]): StatementOutcome {
  const outcome: StatementOutcome = {
    file,
    line,
    command: result.command,
    rowCount: result.rowCount,
    fields: (result.fields ?? []).map((field) => field.name),
    rows: result.rows ?? [],
  };
  outcomes.push(outcome);
  options.onStatement?.(outcome);
  return outcome;
}

/**
 * sha256 of a script and, in order, every file it includes with \ir: a change to an included
 * file changes the checksum of every script that includes it.
 */
export function scriptChecksum(file: string): string {
  const hash = createHash('sha256');
  const visit = (current: string, seen: Set<string>) => {
    if (seen.has(current)) return;
    seen.add(current);
    const text = readFileSync(current, 'utf8');
    hash.update(text);
    for (const match of text.matchAll(/^\s*\\(?:ir|include_relative)\s+(\S+)/gm)) {
      visit(path.resolve(path.dirname(current), match[1]!), seen);
    }
  };
  visit(path.resolve(file), new Set());
  return hash.digest('hex');
}
