/**
 * Parses the subset of psql's script language that sql/ uses, so `tradedb setup` runs the very
 * files a psql user runs, on machines with no psql (the embedded default ships none).
 *
 * Supported: statements ending in `;`; `\ir FILE`, `\set NAME VALUE`, `\unset NAME`,
 * `\if EXPR` / `\elif EXPR` / `\else` / `\endif`, `\gexec`, `\echo TEXT`; variables `:name`,
 * `:'name'` (literal), `:"name"` (identifier) and `:{?name}` (defined?) outside quotes, dollar
 * quotes and comments, exactly where psql interpolates them. Anything else is refused by name.
 */

/** A piece of SQL text, or a variable to substitute when the statement runs. */
export type SqlPart = string | { variable: string; style: 'raw' | 'literal' | 'identifier' | 'defined' };

export type ScriptItem =
  /** `line`: where the statement's first token is; `textLine`: where its text (parts) begins. */
  | { kind: 'statement'; parts: SqlPart[]; line: number; textLine: number; gexec: boolean }
  | { kind: 'meta'; command: string; args: SqlPart[]; line: number };

export class PsqlScriptSyntaxError extends Error {
  constructor(message: string, readonly file: string, readonly line: number) {
    super(`${file}:${line}: ${message}`);
    this.name = 'PsqlScriptSyntaxError';
  }
}

const SUPPORTED_META = new Set(['ir', 'include_relative', 'set', 'unset', 'if', 'elif', 'else', 'endif', 'gexec', 'echo']);
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Splits a script into statements and meta-commands, remembering where variables are. */
export function parsePsqlScript(text: string, file: string): ScriptItem[] {
  const items: ScriptItem[] = [];
  let parts: SqlPart[] = [];
  let chunk = '';
  let line = 1;
  let statementLine = 1;
  let textLine = 1;
  let i = 0;

  const flushChunk = () => {
    if (chunk) parts.push(chunk);
    chunk = '';
  };
  const hasSql = () => parts.some((part) => typeof part !== 'string' || stripComments(part).trim() !== '') || stripComments(chunk).trim() !== '';
  const endStatement = (gexec: boolean) => {
    flushChunk();
    if (parts.some((part) => typeof part !== 'string' || stripComments(part).trim() !== '')) {
      items.push({ kind: 'statement', parts, line: statementLine, textLine, gexec });
    }
    parts = [];
    textLine = line;
  };
  const take = (count: number) => {
    const piece = text.slice(i, i + count);
    for (const char of piece) if (char === '\n') line += 1;
    chunk += piece;
    i += count;
  };
  const markStart = () => {
    if (!hasSql()) statementLine = line;
  };

  while (i < text.length) {
    const char = text[i]!;
    const next = text[i + 1];
    if (char === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      take((end === -1 ? text.length : end) - i);
    } else if (char === '/' && next === '*') {
      take(blockCommentLength(text, i, file, line));
    } else if (char === "'") {
      markStart();
      const escapes = /[eE]/.test(text[i - 1] ?? '') && !NAME_CHAR.test(text[i - 2] ?? '');
      take(quotedLength(text, i, "'", escapes, file, line));
    } else if (char === '"') {
      markStart();
      take(quotedLength(text, i, '"', false, file, line));
    } else if (char === '$' && !NAME_CHAR.test(text[i - 1] ?? '') && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(text.slice(i, i + 64))) {
      markStart();
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 64))![0];
      const end = text.indexOf(tag, i + tag.length);
      if (end === -1) throw new PsqlScriptSyntaxError(`unterminated dollar-quoted string ${tag}`, file, line);
      take(end + tag.length - i);
    } else if (char === ':' && next !== ':' && text[i - 1] !== ':') {
      const variable = variableAt(text, i);
      if (variable) {
        markStart();
        flushChunk();
        parts.push({ variable: variable.name, style: variable.style });
        i += variable.length;
      } else {
        take(1);
      }
    } else if (char === ';') {
      take(1);
      endStatement(false);
    } else if (char === '\\') {
      const end = text.indexOf('\n', i);
      const metaLine = text.slice(i + 1, end === -1 ? text.length : end);
      const command = /^[A-Za-z_]+/.exec(metaLine)?.[0] ?? '';
      if (!SUPPORTED_META.has(command)) {
        throw new PsqlScriptSyntaxError(`psql command \\${command || metaLine.trim()} is not supported by tradedb setup`, file, line);
      }
      if (command === 'gexec') {
        endStatement(true);
      } else {
        endStatement(false);
        items.push({ kind: 'meta', command, args: metaArguments(metaLine.slice(command.length)), line });
      }
      i = end === -1 ? text.length : end;
    } else {
      if (!/\s/.test(char)) markStart();
      take(1);
    }
  }
  endStatement(false);
  return items;
}

function blockCommentLength(text: string, start: number, file: string, line: number): number {
  let depth = 0;
  for (let j = start; j < text.length - 1; j += 1) {
    if (text[j] === '/' && text[j + 1] === '*') {
      depth += 1;
      j += 1;
    } else if (text[j] === '*' && text[j + 1] === '/') {
      depth -= 1;
      j += 1;
      if (depth === 0) return j + 1 - start;
    }
  }
  throw new PsqlScriptSyntaxError('unterminated /* comment', file, line);
}

function quotedLength(text: string, start: number, quote: string, backslashEscapes: boolean, file: string, line: number): number {
  for (let j = start + 1; j < text.length; j += 1) {
    if (backslashEscapes && text[j] === '\\') {
      j += 1;
    } else if (text[j] === quote) {
      if (text[j + 1] === quote) j += 1;
      else return j + 1 - start;
    }
  }
  throw new PsqlScriptSyntaxError(`unterminated ${quote === "'" ? 'string' : 'quoted identifier'}`, file, line);
}

function variableAt(text: string, start: number): { name: string; style: Exclude<SqlPart, string>['style']; length: number } | undefined {
  const rest = text.slice(start, start + 80);
  const match =
    /^:'([A-Za-z0-9_]+)'/.exec(rest) ?? /^:"([A-Za-z0-9_]+)"/.exec(rest) ?? /^:\{\?([A-Za-z0-9_]+)\}/.exec(rest) ?? /^:([A-Za-z0-9_]+)/.exec(rest);
  if (!match) return undefined;
  const style = rest[1] === "'" ? 'literal' : rest[1] === '"' ? 'identifier' : rest[1] === '{' ? 'defined' : 'raw';
  return { name: match[1]!, style, length: match[0].length };
}

/** Splits a meta-command's arguments on blanks, keeping 'quoted text' whole. */
function metaArguments(text: string): SqlPart[] {
  const args: SqlPart[] = [];
  for (const match of text.matchAll(/'((?:[^']|'')*)'|:\{\?([A-Za-z0-9_]+)\}|:'([A-Za-z0-9_]+)'|:([A-Za-z0-9_]+)|(\S+)/g)) {
    if (match[1] !== undefined) args.push(match[1].replaceAll("''", "'"));
    else if (match[2] !== undefined) args.push({ variable: match[2], style: 'defined' });
    else if (match[3] !== undefined) args.push({ variable: match[3], style: 'literal' });
    else if (match[4] !== undefined) args.push({ variable: match[4], style: 'raw' });
    else args.push(match[5]!);
  }
  return args;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/** Substitutes variables the way psql does; an unknown variable stays as written. */
export function interpolate(parts: SqlPart[], variables: ReadonlyMap<string, string>): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const value = variables.get(part.variable);
      switch (part.style) {
        case 'defined':
          return variables.has(part.variable) ? 'TRUE' : 'FALSE';
        case 'literal':
          return value === undefined ? `:'${part.variable}'` : quoteLiteral(value);
        case 'identifier':
          return value === undefined ? `:"${part.variable}"` : quoteIdentifier(value);
        default:
          return value ?? `:${part.variable}`;
      }
    })
    .join('');
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function quoteIdentifier(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** psql's boolean words, for \if. */
export function psqlBoolean(text: string, file: string, line: number): boolean {
  const word = text.trim().toLowerCase();
  if (['true', 'on', 'yes', '1', 't', 'y'].includes(word)) return true;
  if (['false', 'off', 'no', '0', 'f', 'n'].includes(word)) return false;
  throw new PsqlScriptSyntaxError(`\\if expects a boolean, got "${text}"`, file, line);
}
