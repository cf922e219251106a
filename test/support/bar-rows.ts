import type { BarFields, BarProvider, InputRow } from '../../src/services/data-ingestion/input-row.ts';

/** A provider over rows given in the test, numbered from line 2 as if under a CSV header. */
export function memoryProvider(rows: Array<BarFields | InputRow>, kind = 'memory'): BarProvider {
  return {
    kind,
    async *rows() {
      let line = 1;
      for (const row of rows) {
        line += 1;
        yield 'line' in row && 'raw' in row ? (row as InputRow) : { line, raw: JSON.stringify(row), fields: row as BarFields };
      }
    },
  };
}

/** A valid daily bar of `symbol` on `date`, around `price`. */
export function dailyBar(symbol: string, date: string, price = 100): BarFields {
  return {
    symbol,
    timestamp: date,
    open: String(price),
    high: String(price + 2),
    low: String(price - 2),
    close: String(price + 1),
    volume: '1000',
  };
}
