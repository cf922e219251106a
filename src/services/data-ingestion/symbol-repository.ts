import type { Queryable } from '../../db/queryable.ts';
import type { DataStatusRow, DelistingRow, SymbolRow } from './symbol-table.ts';

const SYMBOL_COLUMNS = `symbol, name, exchange, asset_class AS "assetClass", currency, status,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewSymbol {
  symbol: string;
  name?: string | null;
  exchange?: string | null;
  assetClass?: string;
  currency?: string;
}

/** SQL for symbols, delistings and per-series data status. Every function joins the caller's transaction. */
export const symbolRepository = {
  async insert(db: Queryable, symbol: NewSymbol): Promise<SymbolRow | undefined> {
    const { rows } = await db.query<SymbolRow>(
      `INSERT INTO data_ingestion.symbols (symbol, name, exchange, asset_class, currency)
       VALUES ($1, $2, $3, coalesce($4, 'equity'), coalesce($5, 'USD'))
       ON CONFLICT (symbol) DO NOTHING
       RETURNING ${SYMBOL_COLUMNS}`,
      [symbol.symbol, symbol.name ?? null, symbol.exchange ?? null, symbol.assetClass ?? null, symbol.currency ?? null],
    );
    return rows[0];
  },

  /** Inserts the symbols that do not exist yet; returns those it created. */
  async insertMissing(db: Queryable, symbols: readonly string[]): Promise<string[]> {
    const { rows } = await db.query<{ symbol: string }>(
      `INSERT INTO data_ingestion.symbols (symbol)
       SELECT s FROM unnest($1::text[]) AS s ORDER BY s
       ON CONFLICT (symbol) DO NOTHING
       RETURNING symbol`,
      [symbols],
    );
    return rows.map((row) => row.symbol);
  },

  async update(db: Queryable, symbol: string, changes: Omit<NewSymbol, 'symbol'>): Promise<SymbolRow | undefined> {
    // coalesce keeps a column when the caller did not mention it; null is not a way to clear here.
    const { rows } = await db.query<SymbolRow>(
      `UPDATE data_ingestion.symbols
          SET name = coalesce($2, name), exchange = coalesce($3, exchange),
              asset_class = coalesce($4, asset_class), currency = coalesce($5, currency)
        WHERE symbol = $1
        RETURNING ${SYMBOL_COLUMNS}`,
      [symbol, changes.name ?? null, changes.exchange ?? null, changes.assetClass ?? null, changes.currency ?? null],
    );
    return rows[0];
  },

  async find(db: Queryable, symbol: string, options: { forUpdate?: boolean } = {}): Promise<SymbolRow | undefined> {
    const { rows } = await db.query<SymbolRow>(
      `SELECT ${SYMBOL_COLUMNS} FROM data_ingestion.symbols WHERE symbol = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [symbol],
    );
    return rows[0];
  },

  /** Symbols whose ticker starts with `text` or whose name contains it, tickers first. */
  async search(db: Queryable, text: string, limit: number): Promise<SymbolRow[]> {
    const { rows } = await db.query<SymbolRow>(
      `SELECT ${SYMBOL_COLUMNS} FROM data_ingestion.symbols
        WHERE symbol LIKE $1 || '%' OR name ILIKE '%' || $2 || '%'
        ORDER BY (symbol LIKE $1 || '%') DESC, symbol
        LIMIT $3`,
      [escapeLike(text.toUpperCase()), escapeLike(text), limit],
    );
    return rows;
  },

  async list(db: Queryable, status?: string): Promise<SymbolRow[]> {
    const { rows } = await db.query<SymbolRow>(
      `SELECT ${SYMBOL_COLUMNS} FROM data_ingestion.symbols WHERE $1::text IS NULL OR status = $1 ORDER BY symbol`,
      [status ?? null],
    );
    return rows;
  },

  async allSymbols(db: Queryable): Promise<string[]> {
    const { rows } = await db.query<{ symbol: string }>('SELECT symbol FROM data_ingestion.symbols');
    return rows.map((row) => row.symbol);
  },

  async setStatus(db: Queryable, symbol: string, status: string): Promise<void> {
    await db.query('UPDATE data_ingestion.symbols SET status = $2 WHERE symbol = $1', [symbol, status]);
  },

  async insertDelisting(db: Queryable, symbol: string, delistedOn: string, reason: string | null): Promise<void> {
    await db.query('INSERT INTO data_ingestion.delisted_symbols (symbol, delisted_on, reason) VALUES ($1, $2, $3)', [symbol, delistedOn, reason]);
  },

  /** Closes the open delisting (the one without relisted_on); returns false when there is none. */
  async closeDelisting(db: Queryable, symbol: string, relistedOn: string): Promise<boolean> {
    const { rowCount } = await db.query(
      'UPDATE data_ingestion.delisted_symbols SET relisted_on = $2 WHERE symbol = $1 AND relisted_on IS NULL',
      [symbol, relistedOn],
    );
    return (rowCount ?? 0) > 0;
  },

  async delistings(db: Queryable, symbol: string): Promise<DelistingRow[]> {
    const { rows } = await db.query<DelistingRow>(
      `SELECT symbol, delisted_on::text AS "delistedOn", reason, relisted_on::text AS "relistedOn"
         FROM data_ingestion.delisted_symbols WHERE symbol = $1 ORDER BY delisted_on`,
      [symbol],
    );
    return rows;
  },

  async dataStatus(db: Queryable, symbol: string): Promise<DataStatusRow[]> {
    const { rows } = await db.query<DataStatusRow>(
      `SELECT symbol, source, interval, watermark, last_success_at AS "lastSuccessAt",
              last_failure_at AS "lastFailureAt", last_error AS "lastError", row_count::float8 AS "rowCount"
         FROM data_ingestion.symbol_data_status WHERE symbol = $1 ORDER BY source, interval`,
      [symbol],
    );
    return rows;
  },

  /** Records a failed load of these series without touching their watermark. */
  async recordFailure(db: Queryable, symbols: readonly string[], source: string, interval: string, error: string): Promise<void> {
    await db.query(
      `INSERT INTO data_ingestion.symbol_data_status AS s (symbol, source, interval, last_failure_at, last_error)
       SELECT u, $2, $3, now(), $4 FROM unnest($1::text[]) AS u ORDER BY u
       ON CONFLICT (symbol, source, interval)
       DO UPDATE SET last_failure_at = excluded.last_failure_at, last_error = excluded.last_error`,
      [[...symbols].sort(), source, interval, error],
    );
  },

  /** Records a successful load that moved no bars (e.g. nothing new), so the series shows it was checked. */
  async recordSuccess(db: Queryable, symbols: readonly string[], source: string, interval: string): Promise<void> {
    await db.query(
      `INSERT INTO data_ingestion.symbol_data_status AS s (symbol, source, interval, last_success_at)
       SELECT u, $2, $3, now() FROM unnest($1::text[]) AS u ORDER BY u
       ON CONFLICT (symbol, source, interval) DO UPDATE SET last_success_at = excluded.last_success_at`,
      [[...symbols].sort(), source, interval],
    );
  },
};

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
