/** Who wants to know how long each pooled statement took (the API's /metrics histogram). */
type QueryListener = (pool: string, seconds: number) => void;

const listeners = new Set<QueryListener>();

/** Calls `listener` after every statement run through a service or owner pool's query(); returns the unsubscribe. */
export function onQueryTimed(listener: QueryListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Reports one statement's duration to the listeners (none: nothing to do). */
export function queryTimed(pool: string, seconds: number): void {
  for (const listener of listeners) listener(pool, seconds);
}
