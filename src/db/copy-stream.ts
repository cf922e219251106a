import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * COPY ... FROM STDIN in PostgreSQL's text format, the fastest way to put rows in a table.
 * Rows are lines of tab-separated fields; `\N` is NULL.
 */
export const COPY_NULL = '\\N';

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;

/** One field of a text-format COPY row: backslash, tab and line breaks escaped, NUL dropped (text cannot hold it). */
export function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return COPY_NULL;
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r\0]/g, (character) => {
    switch (character) {
      case '\\':
        return '\\\\';
      case '\t':
        return '\\t';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      default:
        return '';
    }
  });
}

/**
 * Streams `chunks` (whole COPY lines, each ending in a newline) through `copySql`
 * (a `COPY table (columns) FROM STDIN`) on `client`, with backpressure; returns the row count.
 */
export async function copyInto(client: pg.ClientBase, copySql: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<number> {
  const stream = client.query(copyFrom(copySql));
  await pipeline(Readable.from(chunks, { objectMode: false }), stream);
  return stream.rowCount;
}
