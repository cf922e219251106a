import type pg from 'pg';
import type { EventBus } from '../events/event-bus.ts';
import { TOPICS } from '../events/event-catalog.ts';
import type { EventEnvelope } from '../events/event-envelope.ts';

type Listener = (event: EventEnvelope) => void;

/**
 * The event bus's live events, fanned out to every server-sent-event stream of the API: one bus
 * listener for the whole server (Redis pub/sub, or LISTEN/NOTIFY without Redis), opened with the
 * first stream, so a hundred open dashboards cost one subscription.
 */
export class LiveEventFeed {
  private listening: Promise<{ close(): Promise<void> }> | undefined;
  private readonly listeners = new Set<Listener>();
  private closed = false;

  /** `pool`: a service pool that may read shared.event_outbox (the PostgreSQL stream reads it). */
  constructor(
    private readonly bus: EventBus,
    private readonly pool: pg.Pool,
  ) {}

  /** Calls `listener` with each event published from now on; the returned function stops it. */
  async subscribe(listener: Listener): Promise<() => void> {
    // After close() nothing may open a bus listener again: nobody would close it.
    if (this.closed) throw new Error('the live event feed is closed');
    this.listening ??= this.bus.listen(this.pool, TOPICS, (event) => {
      for (const each of this.listeners) each(event);
    });
    try {
      await this.listening;
    } catch (error) {
      // Not remembered: the next stream tries again (Redis may be back).
      this.listening = undefined;
      throw error;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    const listening = this.listening;
    this.listening = undefined;
    if (listening) await (await listening.catch(() => undefined))?.close();
  }
}
