import { compareDecimals, type DecimalParts, formatDecimal, isZero, parseDecimal } from '../../shared/decimal-text.ts';
import { parseBarTimestamp } from './bar-timestamp.ts';
import { DuplicateDetector } from './duplicate-detector.ts';
import { type BarFields, fieldLabel, type InputRow } from './input-row.ts';
import { type Interval, intervalSlot } from './interval.ts';
import { normalizeSymbol, symbolFormatProblem } from './symbol-format.ts';

/** Every rule a row can break, with what it means: the vocabulary of data_quality_logs.rule. */
export const QUALITY_RULES = {
  missing_field: 'a required field (symbol, timestamp, open, high, low, close, volume) is empty or absent',
  symbol_format: 'the symbol is too long or holds characters a ticker cannot have',
  unknown_symbol: 'the symbol is not in data_ingestion.symbols (add it, or ingest with --create-symbols)',
  timestamp_format: 'the timestamp is not ISO 8601, not a real date, or a date where a time is needed',
  timestamp_timezone: 'the timestamp has a time but no UTC offset',
  timestamp_alignment: 'the timestamp is not the start of a bar of the run\'s interval',
  timestamp_future: 'the bar starts in the future',
  number_format: 'a price, volume, vwap or trade count is not a plain decimal number',
  number_range: 'a number has more digits than the column holds (12 before the point for prices)',
  price_positive: 'a price (open, high, low, close, vwap) is zero or negative',
  high_range: 'high is below open, close or low',
  low_range: 'low is above open or close',
  volume_negative: 'volume is negative',
  volume_integer: 'volume is not a whole number',
  trade_count_integer: 'trade count is not a whole number from 0 to 2147483647',
  duplicate_key: 'the same symbol and timestamp appear earlier in the same input',
} as const;
export type QualityRule = keyof typeof QUALITY_RULES;

/** A bar that passed every rule, in canonical text ready for COPY. */
export interface ValidBar {
  line: number;
  symbol: string;
  ms: number;
  /** The bar's start as ISO 8601 UTC text, ready for COPY. */
  tsText: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  vwap: string | undefined;
  tradeCount: string | undefined;
}

/** A row that is not loaded, with what is known of it for data_quality_logs. */
export interface Rejection {
  line: number;
  raw: string;
  symbol: string | undefined;
  ms: number | undefined;
  /** A QUALITY_RULES key, or a provider's own rule (column_count, encoding, json_syntax, ...). */
  rule: string;
  detail: string;
}

export type Verdict = { bar: ValidBar } | { rejection: Rejection };

/** What the validator asks about symbols: known, unknown, or to be created by this run. */
export type SymbolCheck = (symbol: string) => 'known' | 'unknown';

export interface BarValidatorOptions {
  interval: Interval;
  isKnownSymbol: SymbolCheck;
  /** "Now" for the future-bar rule; default Date.now at each call. */
  now?: () => number;
}

/** numeric(20,8) keeps 12 digits before the point; volume numeric(28,8) keeps 20. */
const PRICE_WHOLE_DIGITS = 12;
const VOLUME_WHOLE_DIGITS = 20;
const MAX_INT4 = 2_147_483_647;

class RowRejected extends Error {
  constructor(readonly rule: string, readonly detail: string) {
    super(detail);
  }
}

/**
 * Normalizes and validates bars of one run. Stateful: it remembers the keys it has seen so that a
 * repeated (symbol, timestamp) in the same input is rejected, in memory bounded by the time span.
 */
export class BarValidator {
  private readonly duplicates = new DuplicateDetector();
  private readonly now: () => number;

  constructor(private readonly options: BarValidatorOptions) {
    this.now = options.now ?? Date.now;
  }

  check(row: InputRow): Verdict {
    if (row.problem || !row.fields) {
      return rejected(row, undefined, undefined, row.problem?.rule ?? 'unreadable_row', row.problem?.detail ?? 'the row could not be read');
    }
    const fields = row.fields;
    let symbol: string | undefined;
    let ms: number | undefined;
    try {
      symbol = normalizeSymbol(required(fields, 'symbol'));
      const symbolProblem = symbolFormatProblem(symbol);
      if (symbolProblem) {
        // A 200-character "symbol" is kept in the log, but cut to a length fit for a key.
        symbol = symbol.slice(0, 64);
        throw new RowRejected('symbol_format', symbolProblem);
      }
      const time = parseBarTimestamp(required(fields, 'timestamp'), this.options.interval);
      if ('problem' in time) throw new RowRejected(time.rule, time.problem);
      ms = time.ms;
      const slot = intervalSlot(this.options.interval, ms);
      if (slot === undefined) throw new RowRejected('timestamp_alignment', `${time.text} is not the start of a ${this.options.interval} bar`);
      if (ms > this.now()) throw new RowRejected('timestamp_future', `the bar starts at ${time.text}, in the future`);

      const open = positivePrice('open', required(fields, 'open'));
      const high = positivePrice('high', required(fields, 'high'));
      const low = positivePrice('low', required(fields, 'low'));
      const close = positivePrice('close', required(fields, 'close'));
      if (compareDecimals(high, open) < 0 || compareDecimals(high, close) < 0 || compareDecimals(high, low) < 0) {
        throw new RowRejected('high_range', `high ${formatDecimal(high)} is below open ${formatDecimal(open)}, close ${formatDecimal(close)} or low ${formatDecimal(low)}`);
      }
      if (compareDecimals(low, open) > 0 || compareDecimals(low, close) > 0) {
        throw new RowRejected('low_range', `low ${formatDecimal(low)} is above open ${formatDecimal(open)} or close ${formatDecimal(close)}`);
      }
      const volume = wholeVolume(required(fields, 'volume'));
      const vwap = fields.vwap === undefined || fields.vwap === '' ? undefined : formatDecimal(positivePrice('vwap', fields.vwap));
      const tradeCount = fields.tradeCount === undefined || fields.tradeCount === '' ? undefined : tradeCountText(fields.tradeCount);

      if (this.options.isKnownSymbol(symbol) === 'unknown') {
        throw new RowRejected('unknown_symbol', `symbol ${symbol} is not known; add it with \`tradedb symbols add ${symbol}\` or ingest with --create-symbols`);
      }
      // Last, so that a rejected row does not claim the key a later correct row may use.
      if (this.duplicates.isRepeat(symbol, slot)) {
        throw new RowRejected('duplicate_key', `${symbol} at ${time.text} appears earlier in this input`);
      }
      return {
        bar: {
          line: row.line,
          symbol,
          ms,
          tsText: time.text,
          open: formatDecimal(open),
          high: formatDecimal(high),
          low: formatDecimal(low),
          close: formatDecimal(close),
          volume,
          vwap,
          tradeCount,
        },
      };
    } catch (error) {
      if (error instanceof RowRejected) return rejected(row, symbol, ms, error.rule, error.detail);
      throw error;
    }
  }
}

function rejected(row: InputRow, symbol: string | undefined, ms: number | undefined, rule: string, detail: string): Verdict {
  return { rejection: { line: row.line, raw: row.raw, symbol, ms, rule, detail: `line ${row.line}: ${detail}` } };
}

function required(fields: BarFields, name: keyof BarFields): string {
  const value = fields[name]?.trim();
  if (value === undefined || value === '') throw new RowRejected('missing_field', `${fieldLabel(name)} is missing`);
  return value;
}

function decimal(field: string, text: string, wholeDigits: number): DecimalParts {
  const value = parseDecimal(text.trim());
  if (!value) throw new RowRejected('number_format', `${field} ${JSON.stringify(text)} is not a number`);
  if (value.whole.length > wholeDigits) {
    throw new RowRejected('number_range', `${field} ${text} has more than ${wholeDigits} digits before the decimal point`);
  }
  return value;
}

function positivePrice(field: string, text: string): DecimalParts {
  const value = decimal(field, text, PRICE_WHOLE_DIGITS);
  if (value.negative || isZero(value)) throw new RowRejected('price_positive', `${field} ${text} is not above zero`);
  return value;
}

function wholeVolume(text: string): string {
  const value = decimal('volume', text, VOLUME_WHOLE_DIGITS);
  if (value.negative) throw new RowRejected('volume_negative', `volume ${text} is negative`);
  if (value.fraction !== '') throw new RowRejected('volume_integer', `volume ${text} is not a whole number`);
  return formatDecimal(value);
}

function tradeCountText(text: string): string {
  const value = parseDecimal(text.trim());
  if (!value || value.negative || value.fraction !== '' || value.whole.length > 10 || Number(value.whole || '0') > MAX_INT4) {
    throw new RowRejected('trade_count_integer', `trade_count ${JSON.stringify(text)} is not a whole number from 0 to ${MAX_INT4}`);
  }
  return formatDecimal(value);
}
