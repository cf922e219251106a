/** Resolves on the first Ctrl-C or SIGTERM, with the signal's name. */
export function waitForShutdown(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

/**
 * An abort signal for long work: the first Ctrl-C (or SIGTERM) aborts it, saying what happens
 * now (`stopping`); a second Ctrl-C quits at once. Call release() when the work is over.
 */
export function abortOnInterrupt(stopping: string): { signal: AbortSignal; release(): void } {
  const abort = new AbortController();
  const interrupt = () => {
    if (abort.signal.aborted) process.exit(130);
    console.error(`\nInterrupted: ${stopping} (Ctrl-C again to quit at once) ...`);
    abort.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  return {
    signal: abort.signal,
    release: () => {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', interrupt);
    },
  };
}
