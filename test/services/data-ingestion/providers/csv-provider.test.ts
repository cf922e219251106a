import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserFacingError } from '../../../../src/db/errors.ts';
import type { InputRow } from '../../../../src/services/data-ingestion/input-row.ts';
import {
  CsvProvider,
  type CsvProviderOptions,
  detectDelimiter,
  locateRecord,
} from '../../../../src/services/data-ingestion/providers/csv-provider.ts';

let dir: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-csv-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` to a fresh file in the temp dir and returns its path. */
function fixture(content: string | Buffer, name = `f${++fileCount}.csv`): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

async function collect(options: CsvProviderOptions, signal?: AbortSignal): Promise<InputRow[]> {
  const rows: InputRow[] = [];
  for await (const row of new CsvProvider(options).rows(signal)) rows.push(row);
  return rows;
}

const rowsOf = (content: string | Buffer, options: Omit<CsvProviderOptions, 'path'> = {}) => collect({ path: fixture(content), ...options });
const problems = (rows: InputRow[]) => rows.filter((row) => row.problem).map((row) => ({ line: row.line, rule: row.problem!.rule }));

const HEADER = 'symbol,timestamp,open,high,low,close,volume';
const NORMAL = `${HEADER}\nAAPL,2024-01-02T14:30:00Z,187.15,188.44,183.89,185.64,82488700\nMSFT,2024-01-02T14:30:00Z,373.86,375.9,366.77,370.87,25258600\n`;

describe('CsvProvider: normal files', () => {
  it('yields one row per data line with the fields as text, line numbers and raw text', async () => {
    const rows = await rowsOf(NORMAL);
    expect(rows).toEqual([
      {
        line: 2,
        raw: 'AAPL,2024-01-02T14:30:00Z,187.15,188.44,183.89,185.64,82488700',
        fields: { symbol: 'AAPL', timestamp: '2024-01-02T14:30:00Z', open: '187.15', high: '188.44', low: '183.89', close: '185.64', volume: '82488700' },
      },
      {
        line: 3,
        raw: 'MSFT,2024-01-02T14:30:00Z,373.86,375.9,366.77,370.87,25258600',
        fields: { symbol: 'MSFT', timestamp: '2024-01-02T14:30:00Z', open: '373.86', high: '375.9', low: '366.77', close: '370.87', volume: '25258600' },
      },
    ]);
    expect(new CsvProvider({ path: 'x' }).kind).toBe('csv');
  });

  it('keeps decimal text exactly as written, trims blanks around values and drops empty optional values', async () => {
    const rows = await rowsOf(
      `${HEADER},vwap,trade_count\nAAPL, 2024-01-02 ,187.1499938964843,1.10,0.00000001,187.14999389648437500001,12345678901234567890,,\n`,
    );
    expect(rows[0]!.fields).toEqual({
      symbol: 'AAPL',
      timestamp: '2024-01-02',
      open: '187.1499938964843',
      high: '1.10',
      low: '0.00000001',
      close: '187.14999389648437500001',
      volume: '12345678901234567890',
    });
    expect(rows[0]!.fields).not.toHaveProperty('vwap');
  });

  it('reads header names case-insensitively and trimmed, with their aliases', async () => {
    const rows = await rowsOf(' Ticker ,DateTime,OPEN,High,low,Close,Volume,VWAP,Trades\nIBM,2024-01-02,1,2,0.5,1.5,100,1.2,42\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.fields).toEqual({ symbol: 'IBM', timestamp: '2024-01-02', open: '1', high: '2', low: '0.5', close: '1.5', volume: '100', vwap: '1.2', tradeCount: '42' });
    const other = await rowsOf('symbol,time,open,high,low,close,volume,Trade Count\nIBM,2024-01-02,1,2,0.5,1.5,100,7\n');
    expect(other[0]!.fields?.tradeCount).toBe('7');
    expect((await rowsOf('symbol,date,open,high,low,close,volume,tradecount\nIBM,2024-01-02,1,2,0.5,1.5,100,8\n'))[0]!.fields?.tradeCount).toBe('8');
  });

  it('follows a column map, and then ignores the columns it does not name', async () => {
    const rows = await rowsOf('Ticker,Trade Date,Open,High,Low,Last,Volume,Change %\nIBM,2024-01-02,1,2,0.5,1.5,100,+1%\n', {
      columnMap: { symbol: 'ticker', timestamp: 'Trade Date', close: 'Last' },
    });
    expect(rows).toEqual([
      { line: 2, raw: 'IBM,2024-01-02,1,2,0.5,1.5,100,+1%', fields: { symbol: 'IBM', timestamp: '2024-01-02', open: '1', high: '2', low: '0.5', close: '1.5', volume: '100' } },
    ]);
  });

  it('reports a column map naming a column the file lacks, and refuses an unknown field', async () => {
    const rows = await rowsOf(NORMAL, { columnMap: { close: 'Last' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.problem).toMatchObject({ rule: 'missing_columns', detail: expect.stringContaining('Last (for close)') });
    expect(() => new CsvProvider({ path: 'x', columnMap: { price: 'Close' } })).toThrow(UserFacingError);
  });

  it("reads Yahoo Finance's export, ignoring Adj Close, with the symbol from the option", async () => {
    const yahoo = 'Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,187.149994,188.440002,183.889999,185.639999,184.734970,82488700\n';
    const rows = await rowsOf(yahoo, { symbol: 'AAPL' });
    expect(rows).toEqual([
      {
        line: 2,
        raw: '2024-01-02,187.149994,188.440002,183.889999,185.639999,184.734970,82488700',
        fields: { symbol: 'AAPL', timestamp: '2024-01-02', open: '187.149994', high: '188.440002', low: '183.889999', close: '185.639999', volume: '82488700' },
      },
    ]);
  });

  it('asks for --symbol once, at line 1, when a Yahoo export comes without one', async () => {
    const rows = await rowsOf('Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,0.5,1.5,1.4,100\n2024-01-03,1,2,0.5,1.5,1.4,100\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ line: 1, problem: { rule: 'missing_symbol', detail: expect.stringContaining('--symbol') } });
    expect(rows[0]!.problem!.detail).toContain('Yahoo');
  });

  it('uses the symbol option for empty symbol cells only', async () => {
    const rows = await rowsOf(`${HEADER}\nAAPL,2024-01-02,1,2,0.5,1.5,100\n,2024-01-03,1,2,0.5,1.5,100\n`, { symbol: 'DFLT' });
    expect(rows.map((row) => row.fields?.symbol)).toEqual(['AAPL', 'DFLT']);
  });
});

describe('CsvProvider: delimiters', () => {
  it('detects a semicolon, a tab or a pipe from the header', async () => {
    for (const delimiter of [';', '\t', '|']) {
      const rows = await rowsOf(NORMAL.replaceAll(',', delimiter));
      expect(problems(rows), JSON.stringify(delimiter)).toEqual([]);
      expect(rows[1]!.fields?.close).toBe('370.87');
    }
    expect(detectDelimiter('"a,b";c;d')).toBe(';');
    expect(detectDelimiter('single')).toBe(',');
  });

  it('uses an explicit delimiter', async () => {
    // The header has more commas than pipes, so only the explicit "|" splits it right.
    const rows = await rowsOf('symbol|timestamp|open|high|low|close|volume|note,a,b,c,d,e,f,g,h\nA|2024-01-02|1,5|2|1|1|9|x\n', {
      delimiter: '|',
      columnMap: { symbol: 'symbol' },
    });
    expect(problems(rows)).toEqual([]);
    // The comma stays inside the value: the pipeline then judges "1,5".
    expect(rows[0]!.fields).toMatchObject({ symbol: 'A', open: '1,5', volume: '9' });
  });

  it('says which delimiter the file has when the explicit one splits nothing', async () => {
    const rows = await rowsOf(NORMAL.replaceAll(',', ';'), { delimiter: ',' });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ line: 1, problem: { rule: 'delimiter' } });
    expect(rows[0]!.problem!.detail).toContain('";"');
    expect(rows[0]!.problem!.detail).toContain('--delimiter');
  });
});

describe('CsvProvider: compression and encodings', () => {
  it('inflates gzip by its magic bytes, whatever the file name', async () => {
    for (const name of ['bars.csv.gz', 'bars-gz.csv']) {
      const rows = await collect({ path: fixture(gzipSync(NORMAL), name) });
      expect(rows.map((row) => row.fields?.symbol)).toEqual(['AAPL', 'MSFT']);
    }
  });

  it('reports gzip data cut off partway as a problem after the rows it could read', async () => {
    const big = HEADER + '\n' + Array.from({ length: 20_000 }, (_, i) => `S${i},2024-01-02,${i}.5,${i + 1},${i},${i}.7,${i * 31}`).join('\n') + '\n';
    const compressed = gzipSync(big);
    const rows = await rowsOf(compressed.subarray(0, Math.floor(compressed.length / 2)));
    const last = rows[rows.length - 1]!;
    expect(last.problem?.rule).toBe('gzip');
    expect(rows.length).toBeGreaterThan(100);
    expect(problems(rows.slice(0, -1))).toEqual([]);
  });

  it('strips a UTF-8 byte order mark (else the first column would not read as symbol)', async () => {
    const rows = await rowsOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(NORMAL)]));
    expect(problems(rows)).toEqual([]);
    expect(rows[0]!.fields?.symbol).toBe('AAPL');
  });

  it('decodes UTF-16LE and UTF-16BE with a byte order mark', async () => {
    const text = `${HEADER}\nNESN.SW,2024-01-02,100.5,101,99,100,10\nÉTÉ,2024-01-02,1,2,0.5,1.5,3\n`;
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf16le')]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(text, 'utf16be')]);
    for (const bytes of [le, be]) {
      const rows = await rowsOf(bytes);
      expect(problems(rows)).toEqual([]);
      expect(rows.map((row) => row.fields?.symbol)).toEqual(['NESN.SW', 'ÉTÉ']);
      expect(rows[1]!.line).toBe(3);
    }
  });

  it('reports latin1 bytes (invalid UTF-8) as an encoding problem on their line, and reads the other rows', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${HEADER}\nAAPL,2024-01-02,1,2,0.5,1.5,100\n\n"SOCI`),
      Buffer.from([0xe9]), // "é" in latin1
      Buffer.from('TE GENERALE",2024-01-02,1,2,0.5,1.5,100\nMSFT,2024-01-02,1,2,0.5,1.5,100\n'),
    ]);
    const rows = await rowsOf(bytes);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? 'ok'])).toEqual([
      [2, 'ok'],
      [4, 'encoding'],
      [5, 'ok'],
    ]);
    expect(rows[1]!.problem!.detail).toBe('line 4 is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)');
    expect(rows[1]!.raw).toContain('SOCI\uFFFDT');
  });

  it('counts lines and checks characters right across the 64 KiB read chunks', async () => {
    // Rows are padded so that characters and line breaks fall across chunk boundaries: a 2-byte
    // "É", a 4-byte emoji, a "\r\n" between two valid chunks, and one between two chunks that
    // hold invalid bytes (which are checked line by line).
    const parts: Buffer[] = [];
    let size = 0;
    const add = (...pieces: (string | number)[]) => {
      for (const piece of pieces) {
        const bytes = typeof piece === 'number' ? Buffer.from([piece]) : Buffer.from(piece);
        parts.push(bytes);
        size += bytes.length;
      }
    };
    const BODY = ',2024-01-02,1,2,0.5,1.5,1';
    /** Padding that puts the next byte written at offset `at`. */
    const padTo = (at: number, fill: string) => fill.repeat(at - size);
    add(`${HEADER}\r\n`); // line 1
    add(padTo(65_535, 'F'), 'É', `${BODY}\r\n`); // line 2
    add(padTo(131_070, 'G'), '😀', `${BODY}\r\n`); // line 3
    add(padTo(196_607 - BODY.length, 'H'), `${BODY}\r\n`); // line 4: "\r" ends chunk 3, "\n" starts chunk 4
    add(padTo(262_200, 'I'), 0xe9, `${BODY}\r\n`); // line 5: latin1 "é" in chunk 5
    add(padTo(327_679 - BODY.length, 'J'), `${BODY}\r\n`); // line 6: "\r" ends chunk 5
    add('K', 0xe9, `${BODY}\r\n`); // line 7: latin1 in chunk 6
    add(`LAST${BODY}\r\n`); // line 8
    const bytes = Buffer.concat(parts);
    expect(bytes.subarray(65_535, 65_537).toString()).toBe('É');
    expect(bytes.subarray(196_607, 196_609).toString()).toBe('\r\n');
    expect(bytes.subarray(327_679, 327_681).toString()).toBe('\r\n');

    const rows = await rowsOf(bytes);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? [...(row.fields?.symbol ?? '')].at(-1)])).toEqual([
      [2, 'É'],
      [3, '😀'],
      [4, 'H'],
      [5, 'encoding'],
      [6, 'J'],
      [7, 'encoding'],
      [8, 'T'],
    ]);
  });
});

describe('CsvProvider: empty and broken files', () => {
  it('reports an empty file, a blank file and a header without rows as empty_input at line 1', async () => {
    for (const content of ['', '  \n\n \r\n', `${HEADER}\n`, `${HEADER}\n\n\n`]) {
      const rows = await rowsOf(content);
      expect(rows, JSON.stringify(content)).toHaveLength(1);
      expect(rows[0]).toMatchObject({ line: 1, problem: { rule: 'empty_input' } });
    }
  });

  it('reports missing required columns once, naming them, and reads nothing else', async () => {
    const rows = await rowsOf('symbol,timestamp,open,close\nA,2024-01-02,1,2\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ line: 1, problem: { rule: 'missing_columns', detail: expect.stringContaining('high, low, volume') } });
  });

  it('reports a header without symbol column when no symbol is given', async () => {
    const rows = await rowsOf('timestamp,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n');
    expect(rows).toEqual([expect.objectContaining({ line: 1, problem: expect.objectContaining({ rule: 'missing_symbol' }) })]);
  });

  it('reports two columns for one field as ambiguous', async () => {
    const rows = await rowsOf('symbol,date,time,open,high,low,close,volume\nA,2024-01-02,09:30,1,2,0.5,1.5,100\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.problem).toMatchObject({ rule: 'ambiguous_columns', detail: expect.stringContaining('date and time') });
  });

  it('reports unknown columns at line 1 and still loads the known ones', async () => {
    const rows = await rowsOf(`${HEADER},vwapp,,Adj Close\nA,2024-01-02,1,2,0.5,1.5,100,1.1,0,1.4\n`);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ line: 1, problem: { rule: 'unknown_columns' } });
    // Named: the misspelt column. Not named: the unnamed one and Adj Close.
    expect(rows[0]!.problem!.detail).toMatch(/: vwapp \(/);
    expect(rows[1]).toMatchObject({ line: 2, fields: { symbol: 'A', volume: '100' } });
    expect(rows[1]!.fields).not.toHaveProperty('vwap');
  });

  it('reports rows with more or fewer fields than the header and goes on', async () => {
    const rows = await rowsOf(`${HEADER}\nA,2024-01-02,1,2,0.5,1.5,100,extra\nB,2024-01-02,1,2\nC,2024-01-02,1,2,0.5,1.5,100\n`);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? row.fields?.symbol])).toEqual([
      [2, 'column_count'],
      [3, 'column_count'],
      [4, 'C'],
    ]);
    expect(rows[0]!.problem!.detail).toBe('line 2 has 8 fields, the header has 7');
    expect(rows[1]!.raw).toBe('B,2024-01-02,1,2');
  });

  it('reports a last line cut off mid-row as truncated_line, earlier rows unaffected', async () => {
    const rows = await rowsOf(`${HEADER}\nA,2024-01-02,1,2,0.5,1.5,100\nB,2024-01-02,1,2`);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? 'ok'])).toEqual([
      [2, 'ok'],
      [3, 'truncated_line'],
    ]);
    // A complete last row without a final line break is fine.
    expect(problems(await rowsOf(NORMAL.trimEnd()))).toEqual([]);
  });

  it('reports an unterminated quote at the line it opens, earlier rows unaffected', async () => {
    const rows = await rowsOf(`${HEADER}\nA,2024-01-02,1,2,0.5,1.5,100\n\n"B,2024-01-02,1,2,0.5,1.5,100\nC,2024-01-02,1,2,0.5,1.5,100\n`);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? 'ok'])).toEqual([
      [2, 'ok'],
      [4, 'truncated_line'],
    ]);
    expect(rows[1]!.problem!.detail).toContain('line 4');
    expect(rows[1]!.raw.startsWith('"B,2024-01-02')).toBe(true);
  });

  it('stops with line_too_long at a record beyond 1 MiB instead of buffering the rest', async () => {
    const rows = await rowsOf(`${HEADER}\nA,2024-01-02,1,2,0.5,1.5,100\nB,"${'y'.repeat(1_200_000)}\nC,2024-01-02,1,2,0.5,1.5,100\n`);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? 'ok'])).toEqual([
      [2, 'ok'],
      [3, 'line_too_long'],
    ]);
    expect(rows[1]!.raw.length).toBeLessThan(2100);
  });
});

describe('CsvProvider: line numbers', () => {
  it('skips blank and whitespace-only lines silently, keeping physical line numbers', async () => {
    const rows = await rowsOf(`\n${HEADER}\n\nA,2024-01-02,1,2,0.5,1.5,100\n   \n\nB,2024-01-02,1,2,0.5,1.5,100\n\n`);
    expect(rows.map((row) => [row.line, row.problem?.rule ?? row.fields?.symbol])).toEqual([
      [4, 'A'],
      [7, 'B'],
    ]);
  });

  it('counts the lines inside quoted fields, with LF and CRLF line ends', async () => {
    for (const eol of ['\n', '\r\n']) {
      const text = [HEADER, '"A', 'B",2024-01-02,1,2,0.5,1.5,100', '', 'C,2024-01-02,1,2,0.5,1.5,"1', '0', '0"', 'D,2024-01-02,1,2', 'E,2024-01-02,1,2,0.5,1.5,100', ''].join(eol);
      const rows = await rowsOf(text);
      expect(rows.map((row) => [row.line, row.problem?.rule ?? row.fields?.symbol]), JSON.stringify(eol)).toEqual([
        [2, `A${eol}B`],
        [5, 'C'],
        [8, 'column_count'],
        [9, 'E'],
      ]);
      expect(rows[0]!.raw).toBe(`"A${eol}B",2024-01-02,1,2,0.5,1.5,100`);
    }
  });

  it('places records from csv-parse raw text', () => {
    expect(locateRecord('\r\n\na,b\r\n', 3)).toEqual({ line: 5, lastLine: 5, text: 'a,b', terminated: true });
    expect(locateRecord('"x\r\ny",b', 7)).toEqual({ line: 7, lastLine: 8, text: '"x\r\ny",b', terminated: false });
  });
});

describe('CsvProvider: files that cannot be opened', () => {
  it('throws a UserFacingError naming a missing path', async () => {
    const missing = path.join(dir, 'no-such-file.csv');
    await expect(collect({ path: missing })).rejects.toThrow(UserFacingError);
    await expect(collect({ path: missing })).rejects.toThrow(`${missing} does not exist`);
  });

  it('throws a UserFacingError for a directory', async () => {
    const directory = path.join(dir, 'a-directory.csv');
    mkdirSync(directory);
    await expect(collect({ path: directory })).rejects.toThrow(`${directory} is a directory`);
  });

  it('stops with an AbortError when the signal aborts', async () => {
    const controller = new AbortController();
    const rows: InputRow[] = [];
    const reading = (async () => {
      for await (const row of new CsvProvider({ path: fixture(NORMAL) }).rows(controller.signal)) {
        rows.push(row);
        controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    expect(rows).toHaveLength(1);
  });
});

describe('CsvProvider: large files', () => {
  it('streams 300k lines (~200 MB once inflated) in bounded memory', async () => {
    const file = path.join(dir, 'large.csv.gz');
    const padding = 'p'.repeat(600);
    const LINES = 300_000;
    function* content(): Generator<string> {
      yield `${HEADER},note\n`;
      for (let start = 0; start < LINES; start += 1000) {
        let batch = '';
        for (let i = start; i < start + 1000; i++) batch += `AAPL,2024-01-02T14:30:00Z,187.${i},188,186,187.5,${i},${padding}\n`;
        yield batch;
      }
    }
    await pipeline(Readable.from(content()), createGzip({ level: 1 }), createWriteStream(file));

    const before = process.memoryUsage().rss;
    let peak = before;
    let count = 0;
    let lastLine = 0;
    for await (const row of new CsvProvider({ path: file, columnMap: { symbol: 'symbol' } }).rows()) {
      if (row.problem) throw new Error(`unexpected problem on line ${row.line}: ${row.problem.detail}`);
      count++;
      lastLine = row.line;
      if (count % 5000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(count).toBe(LINES);
    expect(lastLine).toBe(LINES + 1);
    expect((peak - before) / 2 ** 20).toBeLessThan(150);
  });
});
