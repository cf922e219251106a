import type pg from 'pg';
import type { ClaimedEvent, StreamSink } from './stream-sink.ts';

/** The channel consumers of the PostgreSQL stream LISTEN on. */
export const POSTGRES_STREAM_CHANNEL = 'tradedb_event_stream';

/**
 * Without Redis, the outbox is the stream: publishing numbers the claimed rows from
 * shared.event_stream_seq (in the relay's transaction, one relay at a time, so numbers grow in
 * commit order and consumer cursors never skip) and wakes the consumers.
 */
export class PostgresStreamSink implements StreamSink {
  readonly kind = 'postgres';

  async identity(): Promise<string> {
    return 'postgres';
  }

  async publish(client: pg.PoolClient, events: ClaimedEvent[]): Promise<void> {
    await client.query(
      `UPDATE shared.event_outbox o
          SET stream_seq = numbered.seq
         FROM (SELECT event_id, nextval('shared.event_stream_seq') AS seq
                 FROM (SELECT * FROM unnest($1::bigint[], $2::uuid[]) AS claimed (id, event_id) ORDER BY id) ordered) numbered
        WHERE o.event_id = numbered.event_id`,
      [events.map((event) => event.outboxId.toString()), events.map((event) => event.eventId)],
    );
    await client.query('SELECT pg_notify($1, \'\')', [POSTGRES_STREAM_CHANNEL]);
  }
}
