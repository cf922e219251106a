import { UserFacingError } from '../../../db/errors.ts';
import type { BarFields, BarProvider, InputRow } from '../input-row.ts';
import { type Interval, intervalLengthMs } from '../interval.ts';

export interface SyntheticOptions {
  /** How many symbols (default 10), named SYN0001, SYN0002, ... unless `symbols` is given. */
  symbolCount?: number;
  /** Explicit symbol names; overrides symbolCount. */
  symbols?: string[];
  interval: Interval;
  /** Bars per symbol (default 1000). */
  bars?: number;
  /** Same seed, same bars (default 42). */
  seed?: number;
  /** UTC start of the first bar; default: so that the last bar starts before now. */
  start?: Date;
  /** 'symbol': each symbol's whole series in turn (default); 'time': all symbols at each time. */
  order?: 'symbol' | 'time';
  /** Annual drift and volatility of the geometric Brownian motion (defaults 0.05 and 0.25). */
  drift?: number;
  volatility?: number;
}

const YEAR_MS = 365.25 * 24 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

/** sfc32: small, fast, and good enough for market noise; seeded, so runs are reproducible. */
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** One independent stream per (seed, symbol), so a symbol's bars do not depend on the order or count of the others. */
function randomFor(seed: number, index: number): () => number {
  const random = sfc32(0x9e3779b9 ^ seed, 0x243f6a88 ^ index, 0xb7e15162 ^ (seed * 31 + index), 0x7f4a7c15);
  for (let i = 0; i < 12; i += 1) random(); // warm up: the first outputs of sfc32 are correlated with the seed
  return random;
}

/** A geometric Brownian motion for one symbol, bar after bar. */
class SyntheticSeries {
  private price: number;
  private readonly random: () => number;
  private readonly stepDrift: number;
  private readonly stepVolatility: number;

  constructor(seed: number, index: number, intervalMs: number, drift: number, volatility: number) {
    this.random = randomFor(seed, index);
    this.price = 20 + this.random() * 480;
    const dt = intervalMs / YEAR_MS;
    this.stepDrift = (drift - (volatility * volatility) / 2) * dt;
    this.stepVolatility = volatility * Math.sqrt(dt);
  }

  next(): BarFields {
    const open = this.price;
    // Box-Muller: a standard normal draw from two uniforms.
    const normal = Math.sqrt(-2 * Math.log(1 - this.random())) * Math.cos(2 * Math.PI * this.random());
    const close = open * Math.exp(this.stepDrift + this.stepVolatility * normal);
    const wick = this.stepVolatility * 0.5;
    const high = Math.max(open, close) * (1 + wick * this.random());
    const low = Math.min(open, close) * (1 - wick * this.random());
    this.price = close;
    // Prices are rounded to 4 decimals first, then high/low are widened to still bound them.
    const [o, c] = [round4(open), round4(close)];
    const h = Math.max(round4(high), o, c);
    const l = Math.min(round4(low), o, c);
    return { open: o.toFixed(4), high: h.toFixed(4), low: l.toFixed(4), close: c.toFixed(4), volume: String(Math.floor(1000 + this.random() * 99_000)) };
  }
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/**
 * Seeded, deterministic bars for demos, tests and benchmarks: a geometric Brownian motion per
 * symbol, bars at every period of the interval (daily bars skip weekends). Monthly bars are not
 * offered (periods of unequal length).
 */
export class SyntheticProvider implements BarProvider {
  readonly kind = 'synthetic';
  private readonly symbols: string[];
  private readonly bars: number;
  private readonly intervalMs: number;
  private readonly start: number;

  constructor(private readonly options: SyntheticOptions) {
    if (options.interval === '1mo' || options.interval === '1wk') {
      throw new UserFacingError(`synthetic bars are offered for 1m, 5m, 15m, 30m, 1h and 1d, not ${options.interval}`);
    }
    const count = options.symbols?.length ?? options.symbolCount ?? 10;
    if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new UserFacingError(`--symbols must be a whole number from 1 to 100000, got ${count}`);
    this.symbols = options.symbols ?? Array.from({ length: count }, (_, index) => `SYN${String(index + 1).padStart(4, '0')}`);
    this.bars = options.bars ?? 1000;
    if (!Number.isInteger(this.bars) || this.bars < 1) throw new UserFacingError(`--bars must be a whole number above 0, got ${this.bars}`);
    this.intervalMs = intervalLengthMs(options.interval);
    this.start = options.start?.getTime() ?? this.defaultStart();
    if (this.start % this.intervalMs !== 0) throw new UserFacingError(`--start must be the start of a ${options.interval} bar`);
  }

  async *rows(signal?: AbortSignal): AsyncIterable<InputRow> {
    const { seed = 42, drift = 0.05, volatility = 0.25, order = 'symbol' } = this.options;
    const series = this.symbols.map((_, index) => new SyntheticSeries(seed, index, this.intervalMs, drift, volatility));
    let line = 0;
    const row = (symbolIndex: number, ms: number): InputRow => {
      line += 1;
      const fields = series[symbolIndex]!.next();
      fields.symbol = this.symbols[symbolIndex]!;
      fields.timestamp = new Date(ms).toISOString();
      return { line, raw: '', fields };
    };
    if (order === 'time') {
      for (const ms of this.timestamps()) {
        if (signal?.aborted) return;
        for (let index = 0; index < this.symbols.length; index += 1) yield row(index, ms);
      }
    } else {
      for (let index = 0; index < this.symbols.length; index += 1) {
        if (signal?.aborted) return;
        for (const ms of this.timestamps()) yield row(index, ms);
      }
    }
  }

  /** The bar start times, shared by every symbol. */
  private *timestamps(): Generator<number> {
    let ms = this.start;
    for (let produced = 0; produced < this.bars; ms += this.intervalMs) {
      if (this.options.interval === '1d' && isWeekend(ms)) continue;
      produced += 1;
      yield ms;
    }
  }

  private defaultStart(): number {
    const now = Math.floor(Date.now() / this.intervalMs) * this.intervalMs;
    // Daily bars skip weekends: go back far enough that 7 calendar days hold 5 bars.
    const span = this.options.interval === '1d' ? Math.ceil((this.bars * 7) / 5 + 2) * DAY_MS : this.bars * this.intervalMs;
    return now - span;
  }
}

function isWeekend(ms: number): boolean {
  const day = new Date(ms).getUTCDay();
  return day === 0 || day === 6;
}
