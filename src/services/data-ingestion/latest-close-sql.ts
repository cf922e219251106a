/**
 * SQL for "the newest close of a symbol" (data_ingestion.latest_close, defined in
 * sql/migrations/0001_order_flow_functions.sql): a scalar to embed in a statement. With `asOfSql`, only bars that
 * had ended by then count (no look-ahead).
 */
export function latestCloseSql(symbolSql: string, asOfSql?: string): string {
  return `data_ingestion.latest_close(${symbolSql}${asOfSql ? `, ${asOfSql}` : ''})`;
}
