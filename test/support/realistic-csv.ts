/**
 * A CSV file of hourly bars as real exports look: a UTF-8 BOM, a quoted header, CRLF line ends,
 * several symbols interleaved by time, some rows fully quoted, timestamps with assorted UTC
 * offsets and separators, prices with 2 to 10 decimals (more than numeric(20,8) keeps), leading
 * zeros and plus signs, padded fields, and optional vwap/trade_count present on some rows and
 * empty (unquoted or "") on others. Every row is valid: nothing is meant to be rejected.
 */

import { seededRandom } from './seeded-random.ts';

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** `ms` written as local time at `offsetMinutes` from UTC, in one of several ISO 8601 spellings. */
function timestampText(ms: number, style: number): string {
  const offsets = [0, -300, 60, 330, -240, 0, -300, 540];
  const offsetMinutes = offsets[style % offsets.length]!;
  const local = new Date(ms + offsetMinutes * 60_000);
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const hm = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const colon = `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  switch (style % offsets.length) {
    case 0:
      return `${date}T${hm}:00Z`;
    case 1:
      return `${date}T${hm}:00${colon}`; // New York winter, -05:00
    case 2:
      return `${date} ${hm}:00${colon}`; // space instead of T
    case 3:
      return `${date}T${hm}:00.000${colon}`; // fractional seconds, +05:30
    case 4:
      return `${date}T${hm}${colon}`; // no seconds, -04:00
    case 5:
      return `${date}T${hm}:00+0000`; // offset without colon
    case 6:
      return `${date}T${hm}:00${colon}`;
    default:
      return `${date}T${hm}:00${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`; // +0900
  }
}

/** A price with 2 to 10 decimals (10 is more than the column keeps: it rounds). */
function priceText(value: number, random: () => number): string {
  const decimals = [2, 4, 6, 8, 10][Math.floor(random() * 5)]!;
  return value.toFixed(decimals);
}

export interface RealisticCsv {
  text: string;
  rows: number;
  symbols: string[];
}

/** `perSymbol` hourly bars of each symbol from `start` (^GSPC on the half hour), interleaved by time. */
export function realisticCsv(options: { perSymbol: number; start: Date; seed?: number }): RealisticCsv {
  const random = seededRandom(options.seed ?? 20240325);
  const symbols = ['AAPL', 'BRK-B', 'EURUSD=X', '^GSPC', 'ES=F'];
  const lines = ['\uFEFF"symbol","timestamp","open","high","low","close","volume","vwap","trade_count"'];
  const prices = symbols.map((_, index) => 50 + index * 900 + random() * 40);
  let rows = 0;
  for (let i = 0; i < options.perSymbol; i += 1) {
    for (const [index, symbol] of symbols.entries()) {
      const ms = options.start.getTime() + i * 3_600_000 + (symbol === '^GSPC' ? 1_800_000 : 0);
      const open = prices[index]!;
      const close = open * (1 + (random() - 0.5) * 0.02);
      const high = Math.max(open, close) * (1 + random() * 0.01);
      const low = Math.min(open, close) * (1 - random() * 0.01);
      prices[index] = close;
      // Text first, then the bounds widened on the text's own values so high >= open, close >= low holds exactly.
      let openText = priceText(open, random);
      const closeText = priceText(close, random);
      let highText = priceText(Math.max(high, Number(openText), Number(closeText)) + 0.01, random);
      const lowText = priceText(Math.max(0.0001, Math.min(low, Number(openText), Number(closeText)) - 0.01), random);
      if (i % 97 === 5) openText = `00${openText}`; // leading zeros
      if (i % 89 === 7) highText = `+${highText}`; // explicit plus sign
      const volume = i % 61 === 3 ? '12345678901234567890' : String(Math.floor(random() * 5_000_000));
      const withVwap = random() < 0.6;
      const vwap = withVwap ? priceText((Number(lowText) + Number(highText.replace('+', ''))) / 2, random) : random() < 0.5 ? '' : '""';
      const tradeCount = random() < 0.5 ? String(Math.floor(random() * 100_000)) : random() < 0.5 ? '' : '""';
      const timestamp = timestampText(ms, i + index);
      const fields = [symbol, timestamp, openText, highText, lowText, closeText, volume, vwap, tradeCount];
      const style = (i * symbols.length + index) % 7;
      if (style === 0) {
        // every field quoted (an empty optional one as "")
        lines.push(fields.map((field) => (field === '""' ? field : `"${field === '' ? '' : field}"`)).join(','));
      } else if (style === 3) {
        // symbol and timestamp quoted, a price padded with spaces inside quotes
        lines.push([`"${symbol}"`, `"${timestamp}"`, `" ${openText} "`, ...fields.slice(3)].join(','));
      } else {
        lines.push(fields.join(','));
      }
      rows += 1;
    }
  }
  return { text: `${lines.join('\r\n')}\r\n`, rows, symbols };
}
