/**
 * The contract between a provider (CSV, JSON lines, synthetic, Yahoo, Alpaca) and the pipeline.
 *
 * A provider reads its input and yields one InputRow per record, as text, without judging it:
 * normalization (timestamps to UTC instants, numbers to exact decimals) and validation (price
 * rules, alignment, duplicates, known symbols) happen once, in the pipeline, for every provider.
 * A provider never throws for bad content; it yields a row with a `problem` so that the row is
 * counted and logged in data_quality_logs with its line number, and the rest still loads. It
 * throws (a UserFacingError) only when the input cannot be opened at all.
 */

/** Bar fields as text, exactly as the input had them (numbers are never passed through a JS float). */
export interface BarFields {
  symbol?: string;
  /**
   * ISO 8601 with an offset or `Z` ("2024-01-02T14:30:00Z", "2024-01-02T09:30:00-05:00"), or a
   * calendar date "2024-01-02" for daily and longer bars (the bar of that exchange-local day).
   * Adapters of APIs convert to UTC themselves and never emit exchange-local times without offset.
   */
  timestamp?: string;
  open?: string;
  high?: string;
  low?: string;
  close?: string;
  volume?: string;
  vwap?: string;
  tradeCount?: string;
}

/** How a field is named to people and in headers: trade_count, not tradeCount. */
export function fieldLabel(field: keyof BarFields): string {
  return field === 'tradeCount' ? 'trade_count' : field;
}

/** A row-level finding: `rule` is a stable snake_case name, `detail` says what was wrong and where. */
export interface RowProblem {
  rule: string;
  detail: string;
}

export interface InputRow {
  /** 1-based line of the row in the input file; for API providers, the record's 1-based position. */
  line: number;
  /** The row as read (the CSV line, the JSON text, the API record as JSON), kept with a rejection. */
  raw: string;
  /** Absent when the row could not be read at all; `problem` then says why. */
  fields?: BarFields;
  /** Set when the row could not be read (wrong column count, bad JSON, bad encoding, empty input...). */
  problem?: RowProblem;
}

/** A source of bars. `rows()` is consumed once, streaming: a provider must not buffer its whole input. */
export interface BarProvider {
  /** Short name for logs and the ingestion run's parameters, e.g. "csv", "yahoo". */
  readonly kind: string;
  rows(signal?: AbortSignal): AsyncIterable<InputRow>;
}

/** Cut raw input to a size fit for a log row; a 200 MB "line" must not become a 200 MB log row. */
export function truncateRaw(raw: string, max = 2000): string {
  return raw.length <= max ? raw : `${raw.slice(0, max)}… (${raw.length} characters)`;
}
