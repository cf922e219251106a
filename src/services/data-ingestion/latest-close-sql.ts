/**
 * SQL for "the newest close of a symbol", written so that each interval is probed through the
 * primary key (symbol, interval, ts) with a backward index scan, instead of sorting a symbol's
 * whole history: a scalar subquery to embed in a statement. With `asOfSql`, only bars that had
 * ended by then count (a bar's close is known at its start plus its length: no look-ahead).
 */
export function latestCloseSql(symbolSql: string, asOfSql?: string): string {
  const ended = asOfSql ? `AND m.ts <= ${asOfSql} AND m.ts + i.length <= ${asOfSql}` : '';
  return `(SELECT c.close
     FROM (VALUES ('1m', interval '1 minute'), ('5m', interval '5 minutes'), ('15m', interval '15 minutes'),
                  ('30m', interval '30 minutes'), ('1h', interval '1 hour'), ('1d', interval '1 day'),
                  ('1wk', interval '7 days'), ('1mo', interval '1 month')) AS i (name, length)
     CROSS JOIN LATERAL (SELECT m.close, m.ts + i.length AS ends FROM data_ingestion.market_data m
                          WHERE m.symbol = ${symbolSql} AND m.interval = i.name ${ended}
                          ORDER BY m.ts DESC LIMIT 1) AS c
    ORDER BY c.ends DESC LIMIT 1)`;
}
