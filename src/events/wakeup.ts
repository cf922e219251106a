/**
 * A loop's pause that a notification can cut short: wait(ms) returns after `ms` or at the next
 * wake(), whichever is first; a wake() while the loop was busy makes the next wait() return at
 * once, so no notification is slept through.
 */
export class Wakeup {
  private pending = false;
  private resolveWait: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    this.resolveWait?.();
  }

  /** Forgets a wake() that came while the loop was busy (it has since looked for work itself). */
  clear(): void {
    this.pending = false;
  }

  async wait(ms: number): Promise<void> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.resolveWait = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.resolveWait = done;
      });
    }
    this.pending = false;
  }
}
