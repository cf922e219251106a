import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * The correlation id of the work in progress, carried through async calls: a signal's order,
 * its fill, the events they publish, the consumers that handle them and every log line on the
 * way share one id. The causation id is the event that caused the current work, if any.
 */
export interface CorrelationContext {
  correlationId: string;
  causationId?: string | undefined;
  /** Who the audit trail records for the work (tradedb.actor), when not the process's own (an API token). */
  actor?: string | undefined;
}

const storage = new AsyncLocalStorage<CorrelationContext>();

/** Runs `work` with this correlation (a new id when none is given), keeping the actor in progress unless one is given. */
export function withCorrelation<T>(context: Partial<CorrelationContext>, work: () => T): T {
  const actor = context.actor ?? storage.getStore()?.actor;
  return storage.run({ correlationId: context.correlationId ?? randomUUID(), causationId: context.causationId, actor }, work);
}

/** The correlation of the work in progress, if any. */
export function currentCorrelation(): CorrelationContext | undefined {
  return storage.getStore();
}

/**
 * The statement that hands the current correlation to the transaction, so that the outbox
 * triggers stamp their events with it (values inlined as literals, so that it can share one
 * round trip with BEGIN), or undefined when there is no correlation in progress.
 */
export function correlationStatement(): string | undefined {
  const context = storage.getStore();
  if (!context) return undefined;
  const actor = context.actor ? `, set_config('tradedb.actor', ${pg.escapeLiteral(context.actor)}, true)` : '';
  return `SELECT set_config('tradedb.correlation_id', ${pg.escapeLiteral(context.correlationId)}, true), set_config('tradedb.causation_id', ${pg.escapeLiteral(context.causationId ?? '')}, true)${actor}`;
}
