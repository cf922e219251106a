/**
 * Polls `condition` every `intervalMs` until it holds; fails after `timeoutMs`. Tests wait for a
 * state, never for a fixed time.
 */
export async function waitFor(condition: () => Promise<boolean>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('waitFor: the condition did not hold in time');
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}
