/**
 * Finds repeated (symbol, bar slot) keys in one input in bounded memory: one growable bitmap per
 * symbol over the slots it has seen. A year of 1-minute bars is 525,600 bits (64 KB) per symbol,
 * where a Set of keys would need tens of megabytes; memory depends on the time span covered, not
 * on the file's size.
 */
class SlotBitmap {
  private first = 0;
  private bits = new Uint8Array(0);

  /** Marks the slot; returns false when it was already marked. */
  mark(slot: number): boolean {
    this.ensureCovers(slot);
    const index = slot - this.first;
    const mask = 1 << (index & 7);
    const byte = index >> 3;
    if ((this.bits[byte]! & mask) !== 0) return false;
    this.bits[byte]! |= mask;
    return true;
  }

  private ensureCovers(slot: number): void {
    if (this.bits.length === 0) {
      this.first = slot - (slot & 7) - 1024;
      this.bits = new Uint8Array(1024 / 8 + 1024);
      return;
    }
    const last = this.first + this.bits.length * 8 - 1;
    if (slot >= this.first && slot <= last) return;
    // Grow by doubling toward the side that is short, so a sorted input costs O(log n) copies.
    const span = this.bits.length * 8;
    const newFirst = slot < this.first ? Math.min(slot - (slot & 7), this.first - span) : this.first;
    const newLast = slot > last ? Math.max(slot, last + span) : last;
    const grown = new Uint8Array(Math.ceil((newLast - newFirst + 1) / 8) + 1);
    // first values are multiples of 8 apart, so the old bytes move as whole bytes.
    grown.set(this.bits, (this.first - newFirst) / 8);
    this.first = newFirst;
    this.bits = grown;
  }
}

export class DuplicateDetector {
  private readonly seen = new Map<string, SlotBitmap>();

  /** Records the key; returns true when this symbol and slot were seen before in this input. */
  isRepeat(symbol: string, slot: number): boolean {
    let bitmap = this.seen.get(symbol);
    if (!bitmap) {
      bitmap = new SlotBitmap();
      this.seen.set(symbol, bitmap);
    }
    return !bitmap.mark(slot);
  }
}
