/**
 * Bars from a JSON-lines file (one JSON object per line; optionally gzip-compressed, UTF-8 or
 * UTF-16 with BOM), read as a stream.
 *
 * Keys: symbol (or S), timestamp (or ts, time, date, t), open/high/low/close/volume (or o, h, l,
 * c, v), vwap (or vw), trade_count (or tradeCount, n). Long names match case-insensitively; the
 * one- and two-letter abbreviations match exactly, since APIs give "t" and "T" different meanings.
 * Other keys are ignored: API records routinely carry extra ones.
 *
 * Numbers: a JSON number keeps the digits written in the file. JSON.parse alone would pass it
 * through a double (187.14999389648437500001 → 187.14999389648438, 19-digit volumes rounded), and
 * a reviver that sees the source text needs Node 21+. So after JSON.parse has validated the line,
 * a small scanner takes the text of the top-level numbers from the line itself. Exponent notation
 * (1.5e-7), which JSON writers use for small and large values, is rewritten as a plain decimal by
 * moving the point in the digits, never through a float.
 *
 * Problems: bad JSON → `json_syntax` with the parser's message (`truncated_line` when it is the last
 * line and the file ends without a line break); not an object, or a field that is an object,
 * array or boolean → `json_shape`; two keys for one field → `ambiguous_fields`; invalid UTF-8 →
 * `encoding`; a line over 1 MiB → `line_too_long`; no rows at all → `empty_input`.
 */
import { type BarFields, type BarProvider, type InputRow, type RowProblem, truncateRaw } from '../input-row.ts';
import {
  corruptGzipProblem,
  invalidUtf8Problem,
  isCorruptGzipError,
  openTextInput,
  resolveColumnMap,
  type TextLine,
  textLines,
} from './text-input.ts';
import { withoutExponent } from '../../../shared/decimal-text.ts';

/** Options of JsonlProvider. */
export interface JsonlProviderOptions {
  /** The JSON-lines file; gzip content is recognised by its bytes, whatever the name. */
  path: string;
  /**
   * Bar field → key in the objects (matched exactly), for keys the aliases do not cover, e.g.
   * `{ timestamp: 'barTime' }`. Fields: symbol, timestamp, open, high, low, close, volume, vwap,
   * trade_count. Default: none, the aliases alone.
   */
  columnMap?: Record<string, string>;
  /** The symbol of rows that have none (absent, null or empty). Default: none. */
  symbol?: string;
}

/** Longer lines are refused without being held in memory whole. */
const MAX_LINE_CHARACTERS = 1 << 20;

/** Keys of each bar field that match in any letter case. */
const LONG_KEYS: Record<keyof BarFields, readonly string[]> = {
  symbol: ['symbol'],
  timestamp: ['timestamp', 'ts', 'time', 'date'],
  open: ['open'],
  high: ['high'],
  low: ['low'],
  close: ['close'],
  volume: ['volume'],
  vwap: ['vwap'],
  tradeCount: ['trade_count', 'tradecount'],
};
/** Abbreviations, matched exactly (Alpaca's bar keys, and its "S" for the symbol). */
const SHORT_KEYS: Record<string, keyof BarFields> = {
  S: 'symbol',
  t: 'timestamp',
  o: 'open',
  h: 'high',
  l: 'low',
  c: 'close',
  v: 'volume',
  vw: 'vwap',
  n: 'tradeCount',
};
const FIELD_BY_LONG_KEY = new Map(
  Object.entries(LONG_KEYS).flatMap(([field, keys]) => keys.map((key) => [key, field as keyof BarFields])),
);
/** Caching key → field lookups; bounded so that lines with ever-new keys cannot grow it without end. */
const KEY_CACHE_LIMIT = 1000;

/** Streams InputRows from a JSON-lines file; see the top of this module for keys and problems. */
export class JsonlProvider implements BarProvider {
  readonly kind = 'jsonl';
  private readonly fieldByMappedKey: Map<string, keyof BarFields>;
  private readonly mappedFields: Set<keyof BarFields>;
  private readonly fieldByKey = new Map<string, keyof BarFields | null>();

  /** Throws a UserFacingError for a column map naming an unknown field. */
  constructor(private readonly options: JsonlProviderOptions) {
    const columnMap = resolveColumnMap(options.columnMap);
    this.fieldByMappedKey = new Map([...columnMap].map(([field, key]) => [key, field]));
    this.mappedFields = new Set(columnMap.keys());
  }

  async *rows(signal?: AbortSignal): AsyncGenerator<InputRow> {
    const input = await openTextInput(this.options.path, signal ? { signal } : {});
    let nextLine = 1;
    let rowCount = 0;
    try {
      for await (const line of textLines(input.text as AsyncIterable<string>, MAX_LINE_CHARACTERS)) {
        signal?.throwIfAborted();
        nextLine = line.line + 1;
        const invalidLine = input.invalidUtf8.take(line.line, line.line);
        if (invalidLine === undefined && line.text.trim() === '' && line.length === line.text.length) continue;
        rowCount++;
        const raw = truncateRaw(line.text);
        if (invalidLine !== undefined) {
          yield { line: line.line, raw, problem: invalidUtf8Problem(invalidLine) };
          continue;
        }
        const read = this.readLine(line);
        yield 'problem' in read ? { line: line.line, raw, problem: read.problem } : { line: line.line, raw, fields: read.fields };
      }
    } catch (error) {
      if (!isCorruptGzipError(error)) throw error;
      yield { line: nextLine, raw: '', problem: corruptGzipProblem(error) };
      return;
    }
    if (rowCount === 0) {
      yield { line: 1, raw: '', problem: { rule: 'empty_input', detail: 'the file is empty: no JSON lines' } };
    }
  }

  private readLine(line: TextLine): { fields: BarFields } | { problem: RowProblem } {
    if (line.length > line.text.length) {
      return {
        problem: {
          rule: 'line_too_long',
          detail: `line ${line.line} has ${line.length} characters, more than the ${MAX_LINE_CHARACTERS} a bar can take`,
        },
      };
    }
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return { problem: syntaxProblem(line, error) };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      return { problem: { rule: 'json_shape', detail: `line ${line.line} is ${kind}, not a JSON object` } };
    }
    return this.fieldsOf(value as Record<string, unknown>, line);
  }

  private fieldsOf(object: Record<string, unknown>, line: TextLine): { fields: BarFields } | { problem: RowProblem } {
    const fields: BarFields = {};
    const keyOfField = new Map<keyof BarFields, string>();
    let numberTexts: Map<string, string> | undefined;
    for (const [key, value] of Object.entries(object)) {
      const field = this.fieldOf(key);
      if (!field) continue;
      const earlier = keyOfField.get(field);
      if (earlier !== undefined) {
        return {
          problem: {
            rule: 'ambiguous_fields',
            detail: `line ${line.line} has both "${earlier}" and "${key}", which both read as ${field}`,
          },
        };
      }
      keyOfField.set(field, key);
      if (value === null) continue;
      if (typeof value === 'string') {
        const text = value.trim();
        if (text !== '') fields[field] = text;
      } else if (typeof value === 'number') {
        numberTexts ??= topLevelNumberTexts(line.text);
        const text = numberTexts.get(key);
        if (text === undefined) throw new Error(`the number of "${key}" was not found in the text of line ${line.line}`);
        fields[field] = plainDecimalText(text);
      } else {
        const kind = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
        return {
          problem: { rule: 'json_shape', detail: `"${key}" on line ${line.line} is ${kind}; expected a number or a string` },
        };
      }
    }
    if (fields.symbol === undefined && this.options.symbol) fields.symbol = this.options.symbol;
    return { fields };
  }

  /** The bar field a key reads as; a column map takes a field away from its aliases. */
  private fieldOf(key: string): keyof BarFields | undefined {
    const cached = this.fieldByKey.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let field = this.fieldByMappedKey.get(key);
    if (!field) {
      const alias = Object.hasOwn(SHORT_KEYS, key) ? SHORT_KEYS[key] : FIELD_BY_LONG_KEY.get(key.trim().toLowerCase());
      if (alias && !this.mappedFields.has(alias)) field = alias;
    }
    if (this.fieldByKey.size < KEY_CACHE_LIMIT) this.fieldByKey.set(key, field ?? null);
    return field;
  }
}

function syntaxProblem(line: TextLine, error: SyntaxError): RowProblem {
  if (!line.terminated) {
    return {
      rule: 'truncated_line',
      detail: `line ${line.line} is not valid JSON (${error.message}) and the file ends there without a line break: it seems cut off`,
    };
  }
  return { rule: 'json_syntax', detail: `line ${line.line} is not valid JSON: ${error.message}` };
}

/**
 * The source text of each top-level member of `json` whose value is a number, by key (the last
 * one wins for repeated keys, as in JSON.parse). `json` must already have passed JSON.parse, so
 * the scanner only has to find token boundaries, not validate.
 */
export function topLevelNumberTexts(json: string): Map<string, string> {
  const numbers = new Map<string, string>();
  let at = skipWhitespace(json, json.indexOf('{') + 1);
  while (at < json.length && json[at] !== '}') {
    const keyEnd = endOfString(json, at);
    const key = JSON.parse(json.slice(at, keyEnd)) as string;
    const valueStart = skipWhitespace(json, skipWhitespace(json, keyEnd) + 1); // past the ":"
    const valueEnd = endOfValue(json, valueStart);
    const first = json[valueStart]!;
    if (first === '-' || (first >= '0' && first <= '9')) numbers.set(key, json.slice(valueStart, valueEnd));
    else numbers.delete(key);
    at = skipWhitespace(json, valueEnd);
    if (json[at] === ',') at = skipWhitespace(json, at + 1);
  }
  return numbers;
}

function skipWhitespace(json: string, at: number): number {
  while (at < json.length && (json[at] === ' ' || json[at] === '\t' || json[at] === '\n' || json[at] === '\r')) at++;
  return at;
}

/** `at` is on the opening quote; returns the index after the closing one. */
function endOfString(json: string, at: number): number {
  let position = at + 1;
  while (json[position] !== '"') position += json[position] === '\\' ? 2 : 1;
  return position + 1;
}

function endOfValue(json: string, at: number): number {
  const first = json[at];
  if (first === '"') return endOfString(json, at);
  if (first === '{' || first === '[') {
    let depth = 0;
    let position = at;
    do {
      const character = json[position];
      if (character === '"') {
        position = endOfString(json, position);
        continue;
      }
      if (character === '{' || character === '[') depth++;
      else if (character === '}' || character === ']') depth--;
      position++;
    } while (depth > 0);
    return position;
  }
  let position = at;
  while (position < json.length && !',}] \t\r\n'.includes(json[position]!)) position++;
  return position;
}

/** Exponents beyond this are left as written (the pipeline refuses them) rather than spelt out in zeros. */
const MAX_PLAIN_EXPONENT = 400;

/**
 * A JSON number's text without exponent, digits unchanged: "1.5e-7" → "0.00000015",
 * "2E+3" → "2000". Text without an exponent, or with one beyond ±400, is returned as is.
 */
export function plainDecimalText(number: string): string {
  const exponentAt = number.search(/[eE]/);
  if (exponentAt === -1 || Math.abs(Number(number.slice(exponentAt + 1))) > MAX_PLAIN_EXPONENT) return number;
  return withoutExponent(number);
}
