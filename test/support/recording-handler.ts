import type { EventHandler } from '../../src/events/event-handling.ts';

/** A handler that records each event it handles in analytics.test_effects. */
export function recordingHandler(consumer: string): EventHandler {
  return async (event, tx) => {
    await tx.query('INSERT INTO analytics.test_effects (event_id, aggregate_id, version, consumer) VALUES ($1, $2, $3, $4)', [
      event.eventId,
      event.aggregate.id,
      event.aggregate.version,
      consumer,
    ]);
  };
}


/** `handler`, except that it always fails on the event `poisonId` (a poison event). */
export function failingOn(poisonId: string | undefined, handler: EventHandler): EventHandler {
  return async (event, tx) => {
    if (event.eventId === poisonId) throw new Error('cannot handle this one');
    await handler(event, tx);
  };
}
