/** Rows of data_ingestion.symbols and delisted_symbols, as the repository returns them. */

export const ASSET_CLASSES = ['equity', 'etf', 'index', 'fund', 'fx', 'crypto', 'future', 'option', 'bond', 'commodity'] as const;
export type AssetClass = (typeof ASSET_CLASSES)[number];
export type SymbolStatus = 'active' | 'delisted' | 'suspended';

export interface SymbolRow {
  symbol: string;
  name: string | null;
  exchange: string | null;
  assetClass: AssetClass;
  currency: string;
  status: SymbolStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface DelistingRow {
  symbol: string;
  delistedOn: string;
  reason: string | null;
  relistedOn: string | null;
}

/** Where one (symbol, source, interval) series stands. */
export interface DataStatusRow {
  symbol: string;
  source: string;
  interval: string;
  watermark: Date | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  rowCount: number;
}
