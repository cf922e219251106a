/**
 * Bars from a CSV file (optionally gzip-compressed, UTF-8 or UTF-16 with BOM), read as a stream.
 *
 * The header names the columns, case-insensitively: symbol, timestamp (or date, datetime, time),
 * open, high, low, close, volume, and optionally vwap and trade_count (or tradecount, trades).
 * Yahoo Finance's export (Date,Open,High,Low,Close,Adj Close,Volume) is read as is: Adj Close is
 * ignored and the symbol comes from the `symbol` option.
 *
 * Decisions on imperfect files (each problem is a row with a `problem`, never an exception):
 * - A header that cannot give every required field (missing or ambiguous columns, no symbol, a
 *   wrong delimiter, invalid UTF-8) yields one problem at the header's line and nothing more:
 *   every data row would fail the same way, and one clear message beats a million rejections.
 * - Unknown extra columns yield one `unknown_columns` problem at the header's line (the pipeline
 *   counts it as a rejected line) and the known columns still load: the data may be fine, but a
 *   column the user expected to be read (a misspelt "vwapp") must not vanish silently. With a
 *   column map, the user has said which columns matter, so the others are ignored quietly; so
 *   are Adj Close and columns without a name (a pandas index, a trailing delimiter).
 * - A row with a field count other than the header's is a `column_count` problem
 *   (`truncated_line` when it is the last line and the file ends without a line break).
 * - A quoted field never closed swallows the rest of the file; it yields `truncated_line` at the
 *   line where it starts. A record beyond 1 MiB (usually the same cause, mid-file) yields
 *   `line_too_long` and stops the reading: csv-parse cannot resume after it.
 */
import { Readable, pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { UserFacingError } from '../../../db/errors.ts';
import { type BarFields, type BarProvider, fieldLabel, type InputRow, type RowProblem, truncateRaw } from '../input-row.ts';
import {
  corruptGzipProblem,
  invalidUtf8Problem,
  isCorruptGzipError,
  openTextInput,
  resolveColumnMap,
} from './text-input.ts';

/** Options of CsvProvider. */
export interface CsvProviderOptions {
  /** The CSV file; `.gz` content is recognised by its bytes, whatever the name. */
  path: string;
  /**
   * Bar field → header name in the file, for headers the aliases do not cover, e.g.
   * `{ timestamp: 'Trade Date', symbol: 'Ticker' }`. Fields: symbol, timestamp, open, high, low,
   * close, volume, vwap, trade_count. Default: none, the aliases alone.
   */
  columnMap?: Record<string, string>;
  /** The symbol of every row, for files without a symbol column (e.g. Yahoo's export); fills empty symbol cells otherwise. */
  symbol?: string;
  /** The field delimiter. Default: detected from the header among `,` `;` tab `|` (`,` when none). */
  delimiter?: string;
}

/** Delimiters tried by auto-detection, in order of preference when counts tie. */
const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
/** Longer records are refused: a bar row is ~100 bytes, and an unclosed quote must not eat memory. */
const MAX_RECORD_CHARACTERS = 1 << 20;
/** How much text is read ahead to find the header line for delimiter detection. */
const HEADER_PEEK_CHARACTERS = 64 * 1024;

/** Header names (normalized: lower case, spaces and hyphens as "_") of each bar field. */
const HEADER_ALIASES: Record<keyof BarFields, readonly string[]> = {
  symbol: ['symbol', 'ticker'],
  timestamp: ['timestamp', 'date', 'datetime', 'time'],
  open: ['open'],
  high: ['high'],
  low: ['low'],
  close: ['close'],
  volume: ['volume'],
  vwap: ['vwap'],
  tradeCount: ['trade_count', 'tradecount', 'trades'],
};
const FIELD_BY_HEADER = new Map(
  Object.entries(HEADER_ALIASES).flatMap(([field, names]) => names.map((name) => [name, field as keyof BarFields])),
);
/** Known columns that carry nothing for a bar: Yahoo's dividend- and split-adjusted close. */
const IGNORED_HEADERS = new Set(['adj_close']);
const REQUIRED_FIELDS = ['timestamp', 'open', 'high', 'low', 'close', 'volume'] as const;

/** A csv-parse record with `raw: true`. */
interface RawRecord {
  record: string[];
  raw: string;
}

/** Where a record sits in the file, from csv-parse's raw text of it. */
interface RecordPlace {
  /** First and last physical line of the record (a quoted field may span lines). */
  line: number;
  lastLine: number;
  /** The record's text without blank lines before it and without its line break. */
  text: string;
  /** False when the file ends right after the record, without a line break. */
  terminated: boolean;
}

/** The columns of the header, resolved to bar fields. */
interface Columns {
  indexes: Map<keyof BarFields, number>;
  count: number;
}

/** Streams InputRows from a CSV file; see the top of this module for the format and its problems. */
export class CsvProvider implements BarProvider {
  readonly kind = 'csv';
  private readonly columnMap: Map<keyof BarFields, string>;

  /** Throws a UserFacingError for a column map naming an unknown field or an unusable delimiter. */
  constructor(private readonly options: CsvProviderOptions) {
    this.columnMap = resolveColumnMap(options.columnMap);
    if (options.delimiter !== undefined && (options.delimiter.length === 0 || /["\r\n]/.test(options.delimiter))) {
      throw new UserFacingError(`the delimiter ${JSON.stringify(options.delimiter)} cannot separate CSV fields`);
    }
  }

  async *rows(signal?: AbortSignal): AsyncGenerator<InputRow> {
    const input = await openTextInput(this.options.path, signal ? { signal } : {});
    const chunks = input.text[Symbol.asyncIterator]() as AsyncIterator<string>;
    const peeked = await peekHeaderText(chunks);
    const delimiter = this.options.delimiter ?? detectDelimiter(firstNonBlankLine(peeked));
    const parser = parse({
      delimiter,
      raw: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_CHARACTERS,
    });
    // Errors of either side end up in the parser, which the loop below reads.
    pipeline(Readable.from(prependText(peeked, chunks)), parser, () => undefined);

    let nextLine = 1;
    let columns: Columns | undefined;
    let dataRows = 0;
    try {
      for await (const { record, raw } of parser as AsyncIterable<RawRecord>) {
        signal?.throwIfAborted();
        const place = locateRecord(raw, nextLine);
        nextLine = place.lastLine + 1;
        const invalidLine = input.invalidUtf8.take(place.line, place.lastLine);
        if (invalidLine === undefined && isBlankRecord(record)) continue;
        const rawText = truncateRaw(place.text);
        if (!columns) {
          if (invalidLine !== undefined) {
            yield { line: place.line, raw: rawText, problem: invalidUtf8Problem(invalidLine) };
            return;
          }
          const header = this.readHeader(record, delimiter);
          if (header.problem) {
            yield { line: place.line, raw: rawText, problem: header.problem };
            if (!header.columns) return;
          }
          columns = header.columns;
          continue;
        }
        dataRows++;
        if (invalidLine !== undefined) {
          yield { line: place.line, raw: rawText, problem: invalidUtf8Problem(invalidLine) };
        } else if (record.length !== columns.count) {
          yield { line: place.line, raw: rawText, problem: columnCountProblem(place, record.length, columns.count) };
        } else {
          yield { line: place.line, raw: rawText, fields: this.fieldsOf(record, columns) };
        }
      }
    } catch (error) {
      const problem = readingProblem(error, nextLine);
      if (!problem) throw error;
      yield { line: problem.line, raw: truncateRaw(problem.raw), problem: problem.problem };
      return;
    }
    if (!columns) {
      yield { line: 1, raw: '', problem: { rule: 'empty_input', detail: 'the file is empty: no header, no rows' } };
    } else if (dataRows === 0) {
      yield { line: 1, raw: '', problem: { rule: 'empty_input', detail: 'the file has a header but no data rows' } };
    }
  }

  /** Maps the header's columns to bar fields; `problem` without `columns` means nothing can load. */
  private readHeader(names: string[], delimiter: string): { columns?: Columns; problem?: RowProblem } {
    if (names.length === 1) {
      const other = CANDIDATE_DELIMITERS.find((candidate) => candidate !== delimiter && names[0]!.includes(candidate));
      if (other) {
        return {
          problem: {
            rule: 'delimiter',
            detail:
              `the header is a single column when split at ${describeDelimiter(delimiter)}, but it contains ` +
              `${describeDelimiter(other)}: the file seems to be separated by ${describeDelimiter(other)}; ` +
              `pass --delimiter '${other === '\t' ? '\\t' : other}' (or leave --delimiter out to detect it)`,
          },
        };
      }
    }
    const normalized = names.map(normalizeHeader);
    const indexes = new Map<keyof BarFields, number>();
    const claimed = new Set<number>();
    const missingMapped: string[] = [];
    for (const [field, headerName] of this.columnMap) {
      const index = normalized.indexOf(normalizeHeader(headerName));
      if (index === -1) missingMapped.push(`${headerName} (for ${fieldLabel(field)})`);
      else {
        indexes.set(field, index);
        claimed.add(index);
      }
    }
    if (missingMapped.length > 0) {
      return {
        problem: {
          rule: 'missing_columns',
          detail: `the column map names columns the header does not have: ${missingMapped.join(', ')}; the header is ${names.join(', ')}`,
        },
      };
    }

    const unknown: string[] = [];
    for (const [index, name] of normalized.entries()) {
      if (claimed.has(index) || name === '' || IGNORED_HEADERS.has(name)) continue;
      const field = FIELD_BY_HEADER.get(name);
      if (!field || this.columnMap.has(field)) {
        unknown.push(names[index]!.trim());
        continue;
      }
      const earlier = indexes.get(field);
      if (earlier !== undefined) {
        return {
          problem: {
            rule: 'ambiguous_columns',
            detail:
              `the columns ${names[earlier]!.trim()} and ${names[index]!.trim()} both read as ${fieldLabel(field)}; ` +
              `name the one to use with a column map (e.g. --column-map ${fieldLabel(field)}=${names[earlier]!.trim()})`,
          },
        };
      }
      indexes.set(field, index);
    }

    const problem = missingFieldsProblem(indexes, normalized, names, this.options.symbol);
    if (problem) return { problem };
    const columns = { indexes, count: names.length };
    // With a column map the user chose the columns to read; the rest is ignored on purpose.
    if (unknown.length > 0 && this.columnMap.size === 0) {
      return {
        columns,
        problem: {
          rule: 'unknown_columns',
          detail: `the header has columns that are not bar fields and are ignored: ${unknown.join(', ')} (the other columns load)`,
        },
      };
    }
    return { columns };
  }

  private fieldsOf(record: string[], columns: Columns): BarFields {
    const fields: BarFields = {};
    for (const [field, index] of columns.indexes) {
      const value = record[index]?.trim();
      if (value) fields[field] = value;
    }
    if (fields.symbol === undefined && this.options.symbol) fields.symbol = this.options.symbol;
    return fields;
  }
}

/** Reads text until the first non-blank line is complete (or the peek limit, or the end). */
async function peekHeaderText(chunks: AsyncIterator<string>): Promise<string> {
  let text = '';
  while (text.length < HEADER_PEEK_CHARACTERS) {
    if (/\S[^\r\n]*[\r\n]/.test(text)) break;
    const next = await chunks.next();
    if (next.done) break;
    text += next.value;
  }
  return text;
}

async function* prependText(first: string, rest: AsyncIterator<string>): AsyncGenerator<string> {
  if (first.length > 0) yield first;
  // The for-await returns `rest` when the parser stops early, which closes the file.
  yield* { [Symbol.asyncIterator]: () => rest };
}

function firstNonBlankLine(text: string): string {
  return text.split(/\r\n|\r|\n/).find((line) => line.trim() !== '') ?? '';
}

/** The candidate that occurs most often outside quotes in the header line; `,` when none does. */
export function detectDelimiter(headerLine: string): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const character of headerLine) {
    if (character === '"') quoted = !quoted;
    else if (!quoted && (CANDIDATE_DELIMITERS as readonly string[]).includes(character)) {
      counts.set(character, (counts.get(character) ?? 0) + 1);
    }
  }
  let best: string = ',';
  let bestCount = 0;
  for (const candidate of CANDIDATE_DELIMITERS) {
    const count = counts.get(candidate) ?? 0;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

function describeDelimiter(delimiter: string): string {
  return delimiter === '\t' ? 'tab' : `"${delimiter}"`;
}

/** "Trade Count " → "trade_count": header names compare case-insensitively, spaces as underscores. */
function normalizeHeader(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_-]+/g, '_');
}

function missingFieldsProblem(
  indexes: Map<keyof BarFields, number>,
  normalized: string[],
  names: string[],
  symbol: string | undefined,
): RowProblem | undefined {
  const missing: string[] = REQUIRED_FIELDS.filter((field) => !indexes.has(field));
  const symbolMissing = !indexes.has('symbol') && !symbol;
  if (missing.length > 0) {
    if (symbolMissing) missing.unshift('symbol (or pass --symbol)');
    return {
      rule: 'missing_columns',
      detail:
        `the header lacks ${missing.join(', ')}; it is ${names.map((name) => name.trim()).join(', ')} ` +
        `(other names can be given with --column-map, e.g. timestamp=Date)`,
    };
  }
  if (!symbolMissing) return undefined;
  const yahooExport = normalized.includes('adj_close');
  return {
    rule: 'missing_symbol',
    detail: yahooExport
      ? 'this looks like a Yahoo Finance export, which has no symbol column: pass --symbol to say whose bars these are'
      : 'the file has no symbol column: pass --symbol to say whose bars these are, or add a symbol column',
  };
}

/** csv-parse returns a blank-but-not-empty line ("   ") as one whitespace field: it is skipped too. */
function isBlankRecord(record: string[]): boolean {
  return record.length === 1 && record[0]!.trim() === '';
}

function columnCountProblem(place: RecordPlace, fieldCount: number, headerCount: number): RowProblem {
  if (!place.terminated && fieldCount < headerCount) {
    return {
      rule: 'truncated_line',
      detail: `line ${place.line} has ${fieldCount} fields, the header has ${headerCount}, and the file ends there without a line break: it seems cut off`,
    };
  }
  return { rule: 'column_count', detail: `line ${place.line} has ${fieldCount} fields, the header has ${headerCount}` };
}

/**
 * Places a record given csv-parse's raw text of it, which starts with the line breaks of any
 * blank lines skipped before it and ends with its own line break (csv-parse keeps only the "\r"
 * of a "\r\n" record delimiter). `firstLine` is the line right after the previous record.
 */
export function locateRecord(raw: string, firstLine: number): RecordPlace {
  let start = 0;
  let line = firstLine;
  while (start < raw.length && (raw[start] === '\r' || raw[start] === '\n')) {
    start += raw.startsWith('\r\n', start) ? 2 : 1;
    line++;
  }
  let end = raw.length;
  if (raw.endsWith('\r\n', end) && end - 2 >= start) end -= 2;
  else if (end > start && (raw[end - 1] === '\n' || raw[end - 1] === '\r')) end -= 1;
  const text = raw.slice(start, end);
  const innerBreaks = text.match(/\r\n|\r|\n/g)?.length ?? 0;
  return { line, lastLine: line + innerBreaks, text, terminated: end < raw.length };
}

/** Turns an error that ended the reading into a problem row, or undefined when it is not about the content. */
function readingProblem(error: unknown, nextLine: number): { line: number; raw: string; problem: RowProblem } | undefined {
  if (isCorruptGzipError(error)) return { line: nextLine, raw: '', problem: corruptGzipProblem(error) };
  if (!(error instanceof CsvError)) return undefined;
  // With `raw: true`, csv-parse puts the text of the failing record on the error.
  const errorRaw: unknown = (error as CsvError & { raw?: unknown }).raw;
  const raw = typeof errorRaw === 'string' ? errorRaw : '';
  const place = locateRecord(raw, nextLine);
  if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
    return {
      line: place.line,
      raw: place.text,
      problem: {
        rule: 'truncated_line',
        detail:
          `a quoted field that starts on line ${place.line} is never closed: the file ends inside it ` +
          `(it seems cut off, or a stray " opens a quote); nothing from line ${place.line} on was read`,
      },
    };
  }
  if (error.code === 'CSV_MAX_RECORD_SIZE') {
    return {
      line: place.line,
      raw: place.text,
      problem: {
        rule: 'line_too_long',
        detail:
          `the record starting on line ${place.line} exceeds ${MAX_RECORD_CHARACTERS} characters, usually because ` +
          `a quote (") is never closed; reading stopped there`,
      },
    };
  }
  return undefined;
}

