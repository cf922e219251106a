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
  JsonlProvider,
  type JsonlProviderOptions,
  plainDecimalText,
  topLevelNumberTexts,
} from '../../../../src/services/data-ingestion/providers/jsonl-provider.ts';
import { textLines } from '../../../../src/services/data-ingestion/providers/text-input.ts';

let dir: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-jsonl-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fixture(content: string | Buffer, name = `f${++fileCount}.jsonl`): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

async function collect(options: JsonlProviderOptions): Promise<InputRow[]> {
  const rows: InputRow[] = [];
  for await (const row of new JsonlProvider(options).rows()) rows.push(row);
  return rows;
}

const rowsOf = (content: string | Buffer, options: Omit<JsonlProviderOptions, 'path'> = {}) => collect({ path: fixture(content), ...options });
const outline = (rows: InputRow[]) => rows.map((row) => [row.line, row.problem?.rule ?? row.fields?.symbol]);

const AAPL = '{"symbol":"AAPL","timestamp":"2024-01-02T14:30:00Z","open":"187.15","high":"188.44","low":"183.89","close":"185.64","volume":"82488700"}';
const MSFT = '{"symbol":"MSFT","timestamp":"2024-01-02T14:30:00Z","open":373.86,"high":375.9,"low":366.77,"close":370.87,"volume":25258600}';

describe('JsonlProvider: normal files', () => {
  it('yields one row per line with the fields as text, line numbers and raw text', async () => {
    const rows = await rowsOf(`${AAPL}\n${MSFT}\n`);
    expect(rows).toEqual([
      {
        line: 1,
        raw: AAPL,
        fields: { symbol: 'AAPL', timestamp: '2024-01-02T14:30:00Z', open: '187.15', high: '188.44', low: '183.89', close: '185.64', volume: '82488700' },
      },
      {
        line: 2,
        raw: MSFT,
        fields: { symbol: 'MSFT', timestamp: '2024-01-02T14:30:00Z', open: '373.86', high: '375.9', low: '366.77', close: '370.87', volume: '25258600' },
      },
    ]);
    expect(new JsonlProvider({ path: 'x' }).kind).toBe('jsonl');
  });

  it('keeps the digits of JSON numbers exactly, and spells exponents out as plain decimals', async () => {
    const line = '{"S":"X","t":"2024-01-02","o":187.1499938964843,"h":187.14999389648437500001,"l":1.10,"c":1e-7,"v":12345678901234567890,"vw":-2.5E+3,"n":0}';
    const rows = await rowsOf(`${line}\n`);
    expect(rows[0]!.fields).toEqual({
      symbol: 'X',
      timestamp: '2024-01-02',
      open: '187.1499938964843',
      high: '187.14999389648437500001',
      low: '1.10',
      close: '0.0000001',
      volume: '12345678901234567890',
      vwap: '-2500',
      tradeCount: '0',
    });
  });

  it('reads the aliases: short keys exactly, long keys in any case', async () => {
    const rows = await rowsOf(
      [
        '{"S":"A","t":"2024-01-02","o":1,"h":2,"l":0.5,"c":1.5,"v":100,"vw":1.2,"n":7}',
        '{"Symbol":"B","TS":"2024-01-02","Open":1,"HIGH":2,"low":0.5,"Close":1.5,"Volume":100,"VWAP":1.2,"tradeCount":8}',
        '{"symbol":"C","date":"2024-01-02","open":1,"high":2,"low":0.5,"close":1.5,"volume":100,"trade_count":9,"O":99,"T":"ignored"}',
      ].join('\n'),
    );
    expect(rows.map((row) => row.fields)).toEqual([
      { symbol: 'A', timestamp: '2024-01-02', open: '1', high: '2', low: '0.5', close: '1.5', volume: '100', vwap: '1.2', tradeCount: '7' },
      { symbol: 'B', timestamp: '2024-01-02', open: '1', high: '2', low: '0.5', close: '1.5', volume: '100', vwap: '1.2', tradeCount: '8' },
      { symbol: 'C', timestamp: '2024-01-02', open: '1', high: '2', low: '0.5', close: '1.5', volume: '100', tradeCount: '9' },
    ]);
  });

  it('follows a column map, which takes the field away from its aliases', async () => {
    const rows = await rowsOf('{"ticker":"A","barTime":"2024-01-02","t":"not me","o":1,"h":2,"l":0.5,"c":1.5,"v":100}\n', {
      columnMap: { symbol: 'ticker', timestamp: 'barTime' },
    });
    expect(rows[0]!.fields).toMatchObject({ symbol: 'A', timestamp: '2024-01-02', open: '1' });
    expect(() => new JsonlProvider({ path: 'x', columnMap: { last: 'c' } })).toThrow(UserFacingError);
  });

  it('fills a missing, null or empty symbol from the option', async () => {
    const rows = await rowsOf('{"t":"2024-01-02","c":1}\n{"symbol":null,"c":1}\n{"symbol":" ","c":1}\n{"symbol":"OWN","c":1}\n', { symbol: 'DFLT' });
    expect(rows.map((row) => row.fields?.symbol)).toEqual(['DFLT', 'DFLT', 'DFLT', 'OWN']);
  });
});

describe('JsonlProvider: problems', () => {
  it('reports bad JSON with the parser message and goes on', async () => {
    const rows = await rowsOf(`${AAPL}\n{"symbol":"X",}\n${MSFT}\n`);
    expect(outline(rows)).toEqual([
      [1, 'AAPL'],
      [2, 'json_syntax'],
      [3, 'MSFT'],
    ]);
    expect(rows[1]!.problem!.detail).toMatch(/^line 2 is not valid JSON: .+/);
    expect(rows[1]!.raw).toBe('{"symbol":"X",}');
  });

  it('reports values that are not objects, and fields that are not scalars, as json_shape', async () => {
    const rows = await rowsOf('[1,2]\nnull\n"text"\n42\n{"symbol":"A","open":true}\n{"symbol":"A","open":{"v":1}}\n');
    expect(outline(rows)).toEqual([
      [1, 'json_shape'],
      [2, 'json_shape'],
      [3, 'json_shape'],
      [4, 'json_shape'],
      [5, 'json_shape'],
      [6, 'json_shape'],
    ]);
    expect(rows[0]!.problem!.detail).toBe('line 1 is an array, not a JSON object');
    expect(rows[4]!.problem!.detail).toContain('"open" on line 5 is a boolean');
  });

  it('reports two keys for one field as ambiguous', async () => {
    const rows = await rowsOf('{"t":"2024-01-02","timestamp":"2024-01-03"}\n');
    expect(rows[0]!.problem).toMatchObject({ rule: 'ambiguous_fields', detail: expect.stringContaining('"t" and "timestamp"') });
  });

  it('reports a cut-off last line as truncated_line, earlier rows unaffected', async () => {
    const rows = await rowsOf(`${AAPL}\n${MSFT.slice(0, 40)}`);
    expect(outline(rows)).toEqual([
      [1, 'AAPL'],
      [2, 'truncated_line'],
    ]);
    // A complete last line without a final line break is fine.
    expect(outline(await rowsOf(`${AAPL}\n${MSFT}`))).toEqual([
      [1, 'AAPL'],
      [2, 'MSFT'],
    ]);
  });

  it('reports an empty or blank file as empty_input at line 1', async () => {
    for (const content of ['', '\n\n  \r\n']) {
      const rows = await rowsOf(content);
      expect(rows).toEqual([{ line: 1, raw: '', problem: { rule: 'empty_input', detail: expect.any(String) } }]);
    }
  });

  it('refuses a line over 1 MiB without keeping it whole, and reads the next', async () => {
    const rows = await rowsOf(`{"symbol":"${'y'.repeat(1_100_000)}"}\n${AAPL}\n`);
    expect(outline(rows)).toEqual([
      [1, 'line_too_long'],
      [2, 'AAPL'],
    ]);
    expect(rows[0]!.raw.length).toBeLessThan(2100);
  });
});

describe('JsonlProvider: compression, encodings and line numbers', () => {
  it('skips blank lines, keeping physical line numbers with LF, CRLF and CR', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const rows = await rowsOf(['', AAPL, '', '   ', MSFT, ''].join(eol));
      expect(outline(rows), JSON.stringify(eol)).toEqual([
        [2, 'AAPL'],
        [5, 'MSFT'],
      ]);
    }
  });

  it('inflates gzip by its magic bytes, whatever the name', async () => {
    for (const name of ['bars.jsonl.gz', 'bars.jsonl']) {
      const rows = await collect({ path: fixture(gzipSync(`${AAPL}\n${MSFT}\n`), name) });
      expect(outline(rows)).toEqual([
        [1, 'AAPL'],
        [2, 'MSFT'],
      ]);
    }
  });

  it('strips a UTF-8 BOM and decodes UTF-16LE with a BOM', async () => {
    const text = `${AAPL}\n{"symbol":"ÉTÉ","c":"1"}\n`;
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf16le')]);
    for (const bytes of [utf8, utf16]) {
      const rows = await rowsOf(bytes);
      expect(outline(rows)).toEqual([
        [1, 'AAPL'],
        [2, 'ÉTÉ'],
      ]);
    }
  });

  it('reports latin1 bytes as an encoding problem on their line, and reads the other rows', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${AAPL}\n\n{"symbol":"SOCI`),
      Buffer.from([0xe9]),
      Buffer.from(`T","c":"1"}\n${MSFT}\n`),
    ]);
    const rows = await rowsOf(bytes);
    expect(outline(rows)).toEqual([
      [1, 'AAPL'],
      [3, 'encoding'],
      [4, 'MSFT'],
    ]);
    expect(rows[1]!.problem!.detail).toBe('line 3 is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)');
  });

  it('splits text chunks into lines across chunk boundaries, cutting long lines', async () => {
    async function* chunks(): AsyncGenerator<string> {
      yield* ['ab', 'c\r', '\nd\r', 'e\n\n', 'f'.repeat(10), 'g'];
    }
    const lines = [];
    for await (const line of textLines(chunks(), 5)) lines.push(line);
    expect(lines).toEqual([
      { line: 1, text: 'abc', length: 3, terminated: true },
      { line: 2, text: 'd', length: 1, terminated: true },
      { line: 3, text: 'e', length: 1, terminated: true },
      { line: 4, text: '', length: 0, terminated: true },
      { line: 5, text: 'fffff', length: 11, terminated: false },
    ]);
  });
});

describe('JSON number text', () => {
  it('finds the source text of top-level numbers, past nested values and strings with braces', () => {
    const json = '{ "a" : 1.50 , "s":"}{,\\"", "nested":{"a":2,"b":[3,{"c":"]"}]}, "b":-0.0e5,"a":"later","c":10}';
    expect(JSON.parse(json)).toBeTruthy();
    expect([...topLevelNumberTexts(json)]).toEqual([
      ['b', '-0.0e5'],
      ['c', '10'],
    ]);
  });

  it('writes exponents out without a float', () => {
    expect(plainDecimalText('1.5e-7')).toBe('0.00000015');
    expect(plainDecimalText('2E+3')).toBe('2000');
    expect(plainDecimalText('-12.345e1')).toBe('-123.45');
    expect(plainDecimalText('123456789012345678901234567890e-10')).toBe('12345678901234567890.1234567890');
    expect(plainDecimalText('187.10')).toBe('187.10');
    expect(plainDecimalText('1e999')).toBe('1e999');
  });
});

describe('JsonlProvider: files that cannot be opened, and large files', () => {
  it('throws a UserFacingError naming a missing path or a directory', async () => {
    const missing = path.join(dir, 'missing.jsonl');
    await expect(collect({ path: missing })).rejects.toThrow(UserFacingError);
    await expect(collect({ path: missing })).rejects.toThrow(missing);
    const directory = path.join(dir, 'dir.jsonl');
    mkdirSync(directory);
    await expect(collect({ path: directory })).rejects.toThrow(`${directory} is a directory`);
  });

  it('streams 300k lines (~200 MB once inflated) in bounded memory', async () => {
    const file = path.join(dir, 'large.jsonl.gz');
    const padding = 'p'.repeat(600);
    const LINES = 300_000;
    function* content(): Generator<string> {
      for (let start = 0; start < LINES; start += 1000) {
        let batch = '';
        for (let i = start; i < start + 1000; i++) {
          batch += `{"S":"AAPL","t":"2024-01-02T14:30:00Z","o":187.${i},"h":188,"l":186,"c":187.5,"v":${i},"note":"${padding}"}\n`;
        }
        yield batch;
      }
    }
    await pipeline(Readable.from(content()), createGzip({ level: 1 }), createWriteStream(file));

    const before = process.memoryUsage().rss;
    let peak = before;
    let count = 0;
    let lastOpen: string | undefined;
    for await (const row of new JsonlProvider({ path: file }).rows()) {
      if (row.problem) throw new Error(`unexpected problem on line ${row.line}: ${row.problem.detail}`);
      count++;
      lastOpen = row.fields?.open;
      if (count % 5000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(count).toBe(LINES);
    expect(lastOpen).toBe(`187.${LINES - 1}`);
    expect((peak - before) / 2 ** 20).toBeLessThan(150);
  });
});
