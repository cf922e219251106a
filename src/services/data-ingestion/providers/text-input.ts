/**
 * Opening an input file of the text providers (CSV, JSON lines) as a stream of decoded text.
 *
 * gzip is recognised by its magic bytes (1f 8b), whatever the file is called, and inflated as a
 * stream. The encoding comes from the byte order mark: UTF-16LE/BE when there is one, UTF-8
 * otherwise (its BOM removed). Bytes that are not valid UTF-8 are never passed on silently: they
 * become U+FFFD in the text, and the physical lines they were on are recorded in an
 * InvalidUtf8Lines, which the provider consults to report those rows with the rule `encoding`.
 *
 * Memory stays constant whatever the file size: data flows in chunks of 64 KiB, with backpressure
 * from the consumer back to the file reads.
 *
 * Line breaks are counted the way csv-parse and node:readline split lines: "\r\n", "\n" and a lone
 * "\r" each end one line, so line numbers agree between this module and the providers.
 *
 * Also here, since both text providers need them: splitting text into lines (JSON
 * lines), the problems of undecodable input, and checking a column map.
 */
import { isUtf8 } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import { addAbortSignal, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import iconv from 'iconv-lite';
import { UserFacingError } from '../../../db/errors.ts';
import type { BarFields, RowProblem } from '../input-row.ts';

const LF = 0x0a;
const CR = 0x0d;
const GZIP_MAGIC = [0x1f, 0x8b] as const;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/** A decoded input file. */
export interface TextInput {
  /** The decoded text as string chunks (object mode), without BOM. Iterate it once. */
  readonly text: Readable;
  /** Physical lines whose bytes were not valid UTF-8, filled as `text` is read. */
  readonly invalidUtf8: InvalidUtf8Lines;
}

/** Options of openTextInput. */
export interface TextInputOptions {
  /** Aborting destroys the stream; reading it then rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Opens `path` for streaming, decompressing and decoding as described at the top of this module.
 * Throws a UserFacingError naming the path when the file is missing, a directory or unreadable.
 */
export async function openTextInput(path: string, options: TextInputOptions = {}): Promise<TextInput> {
  options.signal?.throwIfAborted();
  const handle = await openReadable(path);
  let compressed: boolean;
  try {
    const head = Buffer.alloc(GZIP_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    compressed = bytesRead === GZIP_MAGIC.length && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } catch (error) {
    await handle.close();
    throw cannotRead(path, error);
  }

  const invalidUtf8 = new InvalidUtf8Lines();
  const decoder = new TextDecodingStream(invalidUtf8);
  const file = handle.createReadStream({ start: 0 });
  const stages: NodeJS.ReadWriteStream[] = compressed ? [createGunzip()] : [];
  // Errors of any stage (an I/O error, corrupt gzip data, an abort) destroy the whole chain and
  // surface to whoever iterates `decoder`; this callback has nothing left to do.
  pipeline([file, ...stages, decoder], () => undefined);
  if (options.signal) addAbortSignal(options.signal, decoder);
  return { text: decoder, invalidUtf8 };
}

/** True for the error zlib raises on corrupt or cut-off gzip data (it reaches the reader of `text`). */
export function isCorruptGzipError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('Z_');
}

/** The problem reported for a row containing bytes that are not valid UTF-8. */
export function invalidUtf8Problem(line: number): RowProblem {
  return {
    rule: 'encoding',
    detail: `line ${line} is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)`,
  };
}

/** The problem reported when a gzip file turns out corrupt or cut off partway. */
export function corruptGzipProblem(error: Error): RowProblem {
  return {
    rule: 'gzip',
    detail: `the gzip data is corrupt or cut off (${error.message}); the rows before this point were read, the rest of the file was not`,
  };
}

async function openReadable(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw cannotRead(path, error);
  }
  try {
    // open(2) succeeds on a directory; say so now rather than fail on the first read.
    if ((await handle.stat()).isDirectory()) throw new UserFacingError(`${path} is a directory, not a file`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error instanceof UserFacingError ? error : cannotRead(path, error);
  }
}

function cannotRead(path: string, error: unknown): UserFacingError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return new UserFacingError(`${path} does not exist`, { cause: error });
  if (code === 'EISDIR') return new UserFacingError(`${path} is a directory, not a file`, { cause: error });
  if (code === 'EACCES' || code === 'EPERM') {
    return new UserFacingError(`${path} cannot be read: permission denied`, { cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new UserFacingError(`${path} cannot be read: ${reason}`, { cause: error });
}

/**
 * The physical lines (1-based) that held invalid UTF-8, in increasing order. The decoder adds
 * lines as it meets them; the provider takes them as its records pass by. Since the decoder is
 * only a few buffers ahead of the consumer, the list stays short.
 */
export class InvalidUtf8Lines {
  private readonly lines: number[] = [];
  private next = 0;

  /** Records `line` (called by the decoder, in increasing line order). */
  add(line: number): void {
    if (this.lines[this.lines.length - 1] !== line) this.lines.push(line);
  }

  /**
   * The first invalid line within `first..last`, or undefined; forgets every line up to `last`,
   * so each call must come with a `last` at least that of the previous call.
   */
  take(first: number, last: number): number | undefined {
    let found: number | undefined;
    while (this.next < this.lines.length && this.lines[this.next]! <= last) {
      const line = this.lines[this.next++]!;
      if (found === undefined && line >= first) found = line;
    }
    if (this.next > 1024 && this.next * 2 > this.lines.length) {
      this.lines.splice(0, this.next);
      this.next = 0;
    }
    return found;
  }
}

/** Streaming decoder of one encoding: `write` returns the text of the bytes complete so far. */
interface ChunkDecoder {
  write(bytes: Buffer): string;
  end(): string;
}

/** Bytes in, strings out: picks the encoding from the BOM, then decodes chunk by chunk. */
class TextDecodingStream extends Transform {
  private decoder: ChunkDecoder | undefined;
  /** The first bytes, held until there are enough to recognise a BOM. */
  private head: Buffer = Buffer.alloc(0);

  constructor(private readonly invalidUtf8: InvalidUtf8Lines) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.decoder) {
      this.pushText(this.decoder.write(chunk));
    } else {
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length >= UTF8_BOM.length) this.startDecoding();
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decoder) this.startDecoding();
    this.pushText(this.decoder!.end());
    callback();
  }

  private startDecoding(): void {
    const head = this.head;
    this.head = Buffer.alloc(0);
    if (head[0] === 0xff && head[1] === 0xfe) {
      this.decoder = iconvDecoder('utf16le');
    } else if (head[0] === 0xfe && head[1] === 0xff) {
      this.decoder = iconvDecoder('utf16be');
    } else {
      this.decoder = new Utf8LineCheckingDecoder(this.invalidUtf8);
    }
    // iconv-lite strips the UTF-16 BOM itself; the UTF-8 one is ours to drop.
    const hasUtf8Bom = head[0] === UTF8_BOM[0] && head[1] === UTF8_BOM[1] && head[2] === UTF8_BOM[2];
    this.pushText(this.decoder.write(hasUtf8Bom ? head.subarray(UTF8_BOM.length) : head));
  }

  private pushText(text: string): void {
    if (text.length > 0) this.push(text);
  }
}

function iconvDecoder(encoding: 'utf16le' | 'utf16be'): ChunkDecoder {
  const decoder = iconv.getDecoder(encoding);
  return { write: (bytes) => decoder.write(bytes), end: () => decoder.end() ?? '' };
}

/**
 * UTF-8 decoding that notes the line of every invalid byte sequence. Each chunk is cut after its
 * last complete character, so a chunk can be checked alone: the common, valid chunk costs one
 * native isUtf8 call and a native count of line breaks; only a chunk with invalid bytes is
 * walked line by line to find which lines they are on.
 */
class Utf8LineCheckingDecoder implements ChunkDecoder {
  /** Bytes of a character that the previous chunk cut in two. */
  private carry: Buffer = Buffer.alloc(0);
  private line = 1;
  /** The previous chunk ended with "\r": a "\n" starting this one belongs to the same break. */
  private afterCarriageReturn = false;

  constructor(private readonly invalidUtf8: InvalidUtf8Lines) {}

  write(chunk: Buffer): string {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = endOfCompleteCharacters(bytes);
    // Copied, so that the carry does not keep the whole chunk alive.
    this.carry = Buffer.from(bytes.subarray(end));
    return this.decode(bytes.subarray(0, end));
  }

  end(): string {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return this.decode(rest);
  }

  private decode(bytes: Buffer): string {
    if (bytes.length === 0) return '';
    if (isUtf8(bytes)) this.countLineBreaks(bytes);
    else this.findInvalidLines(bytes);
    // toString replaces each invalid sequence with U+FFFD; the lines are recorded above.
    return bytes.toString('utf8');
  }

  private countLineBreaks(bytes: Buffer): void {
    let breaks = 0;
    for (let at = bytes.indexOf(LF); at !== -1; at = bytes.indexOf(LF, at + 1)) breaks++;
    for (let at = bytes.indexOf(CR); at !== -1; at = bytes.indexOf(CR, at + 1)) {
      // "\r\n" is one break, already counted at its "\n".
      if (bytes[at + 1] !== LF) breaks++;
    }
    if (this.afterCarriageReturn && bytes[0] === LF) breaks--;
    this.afterCarriageReturn = bytes[bytes.length - 1] === CR;
    // A trailing "\r" was counted as a lone break; the "\n" that may start the next chunk is not.
    this.line += breaks;
  }

  private findInvalidLines(bytes: Buffer): void {
    let lineStart = 0;
    for (let at = 0; at < bytes.length; at++) {
      const byte = bytes[at];
      if (byte !== LF && byte !== CR) continue;
      if (!isUtf8(bytes.subarray(lineStart, at))) this.invalidUtf8.add(this.line);
      if (!(byte === LF && (at > 0 ? bytes[at - 1] === CR : this.afterCarriageReturn))) this.line++;
      lineStart = at + 1;
    }
    if (!isUtf8(bytes.subarray(lineStart))) this.invalidUtf8.add(this.line);
    this.afterCarriageReturn = bytes[bytes.length - 1] === CR;
  }
}

/**
 * Where the complete characters of `bytes` end: before a trailing lead byte whose continuation
 * bytes have not arrived yet. Invalid bytes count as complete (they decode to U+FFFD anyway).
 */
function endOfCompleteCharacters(bytes: Buffer): number {
  for (let at = bytes.length - 1; at >= Math.max(0, bytes.length - 3); at--) {
    const byte = bytes[at]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    if (byte < 0xc0) return bytes.length; // ASCII: everything before is complete
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return bytes.length - at < length ? at : bytes.length;
  }
  return bytes.length;
}

/** A line of decoded text, as yielded by textLines. */
export interface TextLine {
  /** 1-based physical line number. */
  line: number;
  /** The line without its line break; cut to `maxLength` characters when longer. */
  text: string;
  /** The full length of the line, also when `text` was cut. */
  length: number;
  /** False for a last line that the input ended without a line break. */
  terminated: boolean;
}

/**
 * Splits decoded text into lines ("\r\n", "\n" or "\r" end a line). A line longer than
 * `maxLength` (default 1 MiB) is cut to that, so one endless "line" cannot exhaust memory.
 */
export async function* textLines(chunks: AsyncIterable<string>, maxLength = 1 << 20): AsyncGenerator<TextLine> {
  let text = '';
  let length = 0;
  let line = 1;
  let afterCarriageReturn = false;
  const append = (piece: string): void => {
    if (text.length < maxLength) text += piece.slice(0, maxLength - text.length);
    length += piece.length;
  };
  const lineBreak = /[\r\n]/g;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    let from = afterCarriageReturn && chunk[0] === '\n' ? 1 : 0;
    afterCarriageReturn = false;
    lineBreak.lastIndex = from;
    for (let match = lineBreak.exec(chunk); match; match = lineBreak.exec(chunk)) {
      append(chunk.slice(from, match.index));
      yield { line, text, length, terminated: true };
      line++;
      text = '';
      length = 0;
      from = match.index + 1;
      if (match[0] === '\r') {
        if (from === chunk.length) afterCarriageReturn = true;
        else if (chunk[from] === '\n') from++;
      }
      lineBreak.lastIndex = from;
    }
    append(chunk.slice(from));
  }
  if (length > 0) yield { line, text, length, terminated: false };
}

/** The bar fields a column map may name, by the names a user may write for them. */
const COLUMN_MAP_TARGETS: Record<string, keyof BarFields> = {
  symbol: 'symbol',
  timestamp: 'timestamp',
  open: 'open',
  high: 'high',
  low: 'low',
  close: 'close',
  volume: 'volume',
  vwap: 'vwap',
  trade_count: 'tradeCount',
  tradeCount: 'tradeCount',
};

/**
 * Checks a column map (bar field → column or key name in the file) of a text provider and returns
 * it keyed by BarFields names. Throws a UserFacingError for an unknown field or an empty name.
 */
export function resolveColumnMap(columnMap: Record<string, string> | undefined): Map<keyof BarFields, string> {
  const resolved = new Map<keyof BarFields, string>();
  for (const [target, source] of Object.entries(columnMap ?? {})) {
    const field = Object.hasOwn(COLUMN_MAP_TARGETS, target) ? COLUMN_MAP_TARGETS[target] : undefined;
    if (!field) {
      const known = Object.keys(COLUMN_MAP_TARGETS).filter((name) => name !== 'tradeCount');
      throw new UserFacingError(`unknown field "${target}" in the column map; the fields are ${known.join(', ')}`);
    }
    if (source.trim() === '') throw new UserFacingError(`the column map gives "${target}" an empty column name`);
    resolved.set(field, source);
  }
  return resolved;
}
