import { toUnits } from '../../shared/decimal-text.ts';

export type CrossSignal = 'up' | 'down' | undefined;

/**
 * Simple moving averages of closes over `fast` and `slow` bars, fed one close at a time; says
 * when the fast average crosses above ("up") or below ("down") the slow one. Sums are exact
 * (bigint units of 10^-8), so a replay gives the same signals on every machine.
 */
export class SmaCrossover {
  private readonly closes: bigint[] = [];
  private fastSum = 0n;
  private slowSum = 0n;
  private previous: number | undefined;

  constructor(private readonly fast: number, private readonly slow: number) {}

  push(close: string): CrossSignal {
    const value = toUnits(close);
    this.closes.push(value);
    this.fastSum += value;
    this.slowSum += value;
    if (this.closes.length > this.fast) this.fastSum -= this.closes[this.closes.length - 1 - this.fast]!;
    if (this.closes.length > this.slow) {
      this.slowSum -= this.closes.shift()!;
    }
    if (this.closes.length < this.slow) return undefined;
    // fast mean vs slow mean, compared without division: fastSum·slow vs slowSum·fast.
    const left = this.fastSum * BigInt(this.slow);
    const right = this.slowSum * BigInt(this.fast);
    const side = left > right ? 1 : left < right ? -1 : 0;
    const before = this.previous;
    if (side !== 0) this.previous = side;
    if (before === undefined || side === 0 || side === before) return undefined;
    return side > 0 ? 'up' : 'down';
  }
}
