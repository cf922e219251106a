/**
 * Exact decimals as text. Prices travel from the input to PostgreSQL's numeric as the digits
 * the input had: a JS number would turn 0.1 + 0.2 into 0.30000000000000004 and 19-digit
 * volumes into something else. Comparisons for validation (high >= low) work on the text.
 */

/** Unsigned decimal: digits, optional fraction. Signs, exponents and thousands separators are refused. */
const UNSIGNED_DECIMAL = /^(\d+)(?:\.(\d*))?$|^\.(\d+)$/;

/** A decimal split into canonical parts: no leading zeros in `whole`, no trailing zeros in `fraction`. */
export interface DecimalParts {
  negative: boolean;
  whole: string;
  fraction: string;
}

/** Parses "-0012.3400" into {negative: true, whole: "12", fraction: "34"}; undefined when not a plain decimal. */
export function parseDecimal(text: string): DecimalParts | undefined {
  let body = text;
  let negative = false;
  if (body.startsWith('-')) {
    negative = true;
    body = body.slice(1);
  } else if (body.startsWith('+')) {
    body = body.slice(1);
  }
  const match = UNSIGNED_DECIMAL.exec(body);
  if (!match) return undefined;
  const whole = (match[1] ?? '0').replace(/^0+/, '');
  const fraction = (match[2] ?? match[3] ?? '').replace(/0+$/, '');
  // "-0" is zero, not negative.
  return { negative: negative && (whole !== '' || fraction !== ''), whole, fraction };
}

export function isZero(value: DecimalParts): boolean {
  return value.whole === '' && value.fraction === '';
}

/** Canonical text of a decimal ("12.34", "0.5", "0"), fit for COPY into numeric. */
export function formatDecimal(value: DecimalParts): string {
  const text = `${value.whole || '0'}${value.fraction ? `.${value.fraction}` : ''}`;
  return value.negative ? `-${text}` : text;
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareDecimals(a: DecimalParts, b: DecimalParts): number {
  if (a.negative !== b.negative) return a.negative ? -1 : 1;
  const sign = a.negative ? -1 : 1;
  if (a.whole.length !== b.whole.length) return a.whole.length < b.whole.length ? -sign : sign;
  if (a.whole !== b.whole) return a.whole < b.whole ? -sign : sign;
  const width = Math.max(a.fraction.length, b.fraction.length);
  const fa = a.fraction.padEnd(width, '0');
  const fb = b.fraction.padEnd(width, '0');
  if (fa === fb) return 0;
  return fa < fb ? -sign : sign;
}

/**
 * Number text without its exponent, digits unchanged: "1.5e-7" → "0.00000015", "2E+3" → "2000",
 * "-1.25e1" → "-12.5". Text without an exponent is returned as is.
 */
export function withoutExponent(number: string): string {
  const exponentAt = number.search(/[eE]/);
  if (exponentAt === -1) return number;
  const exponent = Number(number.slice(exponentAt + 1));
  const negative = number.startsWith('-');
  const mantissa = number.slice(negative || number.startsWith('+') ? 1 : 0, exponentAt);
  const [whole = '', fraction = ''] = mantissa.split('.');
  const digits = whole + fraction;
  // Where the decimal point falls in `digits` once the exponent is applied.
  const pointAt = whole.length + exponent;
  let plain: string;
  if (pointAt <= 0) plain = `0.${'0'.repeat(-pointAt)}${digits}`;
  else if (pointAt >= digits.length) plain = digits + '0'.repeat(pointAt - digits.length);
  else plain = `${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
  return negative ? `-${plain}` : plain;
}

/**
 * A decimal of at most `scale` decimals as an integer count of 10^-scale units ("1.5" → 150000000n
 * at scale 8), for exact sums and comparisons in TypeScript. Throws a RangeError for text that is
 * not a plain decimal or has more decimals than `scale`.
 */
export function toUnits(text: string, scale = 8): bigint {
  const parts = parseDecimal(text);
  if (!parts || parts.fraction.length > scale) throw new RangeError(`${JSON.stringify(text)} is not a decimal with at most ${scale} decimals`);
  const units = BigInt(`${parts.whole || '0'}${parts.fraction.padEnd(scale, '0')}`);
  return parts.negative ? -units : units;
}

/** The inverse of toUnits: 150000000n → "1.5". */
export function fromUnits(units: bigint, scale = 8): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, -scale);
  const fraction = digits.slice(-scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
