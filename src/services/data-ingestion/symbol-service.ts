import { z } from 'zod';
import { UserFacingError } from '../../db/errors.ts';
import type { ConnectionSource, Queryable } from '../../db/queryable.ts';
import { withTransaction } from '../../db/transaction.ts';
import { type Interval, isInterval } from './interval.ts';
import { isCalendarDate } from './bar-timestamp.ts';
import { normalizeSymbol, symbolFormatProblem } from './symbol-format.ts';
import { type NewSymbol, symbolRepository } from './symbol-repository.ts';
import { ASSET_CLASSES, type DataStatusRow, type DelistingRow, type SymbolRow } from './symbol-table.ts';

/** The symbol named does not exist. */
export class UnknownSymbolError extends UserFacingError {
  constructor(readonly symbol: string) {
    super(`Symbol ${symbol} is not known; add it with \`tradedb symbols add ${symbol}\`.`);
    this.name = 'UnknownSymbolError';
  }
}

/** The change asked for does not fit the symbol's state (delisting a delisted symbol, adding one that exists). */
export class SymbolStateError extends UserFacingError {
  constructor(message: string) {
    super(message);
    this.name = 'SymbolStateError';
  }
}

const symbolText = z.string().transform(normalizeSymbol).superRefine((symbol, context) => {
  const problem = symbolFormatProblem(symbol);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine(isCalendarDate, 'must be a real calendar date');
const symbolDetails = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  exchange: z.string().trim().min(1).max(32).optional(),
  assetClass: z.enum(ASSET_CLASSES).optional(),
  currency: z.string().trim().toUpperCase().regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as USD').optional(),
});

/** Parses with `schema` or throws a UserFacingError naming each field at fault. */
function parseInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`);
  throw new UserFacingError(`Invalid ${what}: ${problems.join('; ')}`);
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/**
 * The rules around instruments: which exist, which are active, their delisting history, and
 * where each of their data series stands. A delisted symbol keeps its bars; relisting it brings
 * it back with its history intact.
 */
export class SymbolService {
  constructor(private readonly pool: ConnectionSource & Queryable) {}

  async add(input: NewSymbol): Promise<SymbolRow> {
    const { symbol, ...details } = parseInput(symbolDetails.extend({ symbol: symbolText }), input, 'symbol');
    const row = await symbolRepository.insert(this.pool, { symbol, ...details });
    if (!row) throw new SymbolStateError(`Symbol ${symbol} already exists; change it with \`tradedb symbols update ${symbol}\`.`);
    return row;
  }

  async update(symbolInput: string, changes: Omit<NewSymbol, 'symbol'>): Promise<SymbolRow> {
    const symbol = parseInput(symbolText, symbolInput, 'symbol');
    const row = await symbolRepository.update(this.pool, symbol, parseInput(symbolDetails, changes, 'symbol details'));
    if (!row) throw new UnknownSymbolError(symbol);
    return row;
  }

  async get(symbolInput: string): Promise<SymbolRow | undefined> {
    return symbolRepository.find(this.pool, normalizeSymbol(symbolInput));
  }

  /** Up to `limit` (default 20) symbols whose ticker starts with, or whose name contains, `text`. */
  async search(text: string, limit = 20): Promise<SymbolRow[]> {
    return symbolRepository.search(this.pool, text.trim(), limit);
  }

  async listActive(): Promise<SymbolRow[]> {
    return symbolRepository.list(this.pool, 'active');
  }

  /** Every symbol, or those with `status`. */
  async list(status?: SymbolRow['status']): Promise<SymbolRow[]> {
    return symbolRepository.list(this.pool, status);
  }

  /** Marks the symbol delisted as of `date` (default today) and records why; its bars stay. */
  async delist(symbolInput: string, options: { date?: string; reason?: string } = {}): Promise<SymbolRow> {
    const symbol = parseInput(symbolText, symbolInput, 'symbol');
    const date = parseInput(isoDate, options.date ?? today(), 'delisting date');
    return withTransaction(this.pool, async (client) => {
      const current = await symbolRepository.find(client, symbol, { forUpdate: true });
      if (!current) throw new UnknownSymbolError(symbol);
      if (current.status === 'delisted') throw new SymbolStateError(`Symbol ${symbol} is already delisted.`);
      const history = await symbolRepository.delistings(client, symbol);
      const last = history.at(-1);
      if (last && date <= (last.relistedOn ?? last.delistedOn)) {
        throw new SymbolStateError(`Delisting date ${date} must be after ${symbol}'s last relisting on ${last.relistedOn ?? last.delistedOn}.`);
      }
      await symbolRepository.insertDelisting(client, symbol, date, options.reason?.trim() || null);
      await symbolRepository.setStatus(client, symbol, 'delisted');
      return { ...current, status: 'delisted' };
    });
  }

  /** Brings a delisted symbol back as of `date` (default today), closing its open delisting. */
  async relist(symbolInput: string, options: { date?: string } = {}): Promise<SymbolRow> {
    const symbol = parseInput(symbolText, symbolInput, 'symbol');
    const date = parseInput(isoDate, options.date ?? today(), 'relisting date');
    return withTransaction(this.pool, async (client) => {
      const current = await symbolRepository.find(client, symbol, { forUpdate: true });
      if (!current) throw new UnknownSymbolError(symbol);
      if (current.status !== 'delisted') throw new SymbolStateError(`Symbol ${symbol} is ${current.status}, not delisted.`);
      const open = (await symbolRepository.delistings(client, symbol)).find((row) => row.relistedOn === null);
      if (open && date < open.delistedOn) {
        throw new SymbolStateError(`Relisting date ${date} is before ${symbol}'s delisting on ${open.delistedOn}.`);
      }
      if (open) await symbolRepository.closeDelisting(client, symbol, date);
      await symbolRepository.setStatus(client, symbol, 'active');
      return { ...current, status: 'active' };
    });
  }

  async delistings(symbolInput: string): Promise<DelistingRow[]> {
    return symbolRepository.delistings(this.pool, normalizeSymbol(symbolInput));
  }

  async dataStatus(symbolInput: string): Promise<DataStatusRow[]> {
    return symbolRepository.dataStatus(this.pool, normalizeSymbol(symbolInput));
  }

  /**
   * Marks a series' outcome for loads that move no bars through the loader (reference data, a
   * provider that failed before yielding anything). Bar loads update the status themselves, in
   * the transaction of their data.
   */
  async markDataStatus(symbolInput: string, source: string, interval: Interval, outcome: { ok: true } | { ok: false; error: string }): Promise<void> {
    const symbol = normalizeSymbol(symbolInput);
    if (!isInterval(interval)) throw new UserFacingError(`Unknown interval ${interval}.`);
    if (!(await symbolRepository.find(this.pool, symbol))) throw new UnknownSymbolError(symbol);
    if (outcome.ok) await symbolRepository.recordSuccess(this.pool, [symbol], source, interval);
    else await symbolRepository.recordFailure(this.pool, [symbol], source, interval, outcome.error);
  }
}
