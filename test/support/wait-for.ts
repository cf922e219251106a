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

/** Waits until a session of the current database sleeps in pg_sleep (a test's planted pause) and returns its pid. */
export async function waitForSleepingBackend(admin: { query(text: string): Promise<{ rows: Array<{ pid?: number }> }> }): Promise<number> {
  let backend = 0;
  await waitFor(async () => {
    const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'");
    backend = rows[0]?.pid ?? 0;
    return backend !== 0;
  });
  return backend;
}
