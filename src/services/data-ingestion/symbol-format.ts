/**
 * What a ticker may look like: upper-case vendor symbols such as BRK-B, ^GSPC, EURUSD=X, ES=F,
 * BTC-USD. The same rule is a CHECK on data_ingestion.symbols (sql/02).
 */
export const SYMBOL_PATTERN = /^[A-Z0-9^][A-Z0-9.^=/:_&-]{0,31}$/;
export const SYMBOL_MAX_LENGTH = 32;

/** Trims and upper-cases input text into a candidate symbol ("brk-b " -> "BRK-B"). */
export function normalizeSymbol(text: string): string {
  return text.trim().toUpperCase();
}

/** Why `symbol` is not a valid ticker, or undefined when it is. */
export function symbolFormatProblem(symbol: string): string | undefined {
  if (symbol === '') return 'symbol is empty';
  if (symbol.length > SYMBOL_MAX_LENGTH) {
    return `symbol is ${symbol.length} characters long; at most ${SYMBOL_MAX_LENGTH} are allowed`;
  }
  if (!SYMBOL_PATTERN.test(symbol)) {
    return `symbol ${JSON.stringify(symbol)} may hold only A-Z, 0-9 and . ^ = / : _ & - (starting with a letter, digit or ^)`;
  }
  return undefined;
}
