import type pg from 'pg';
import type { StreamSink } from './stream-sink.ts';

/** The channel consumers of the PostgreSQL stream LISTEN on. */
export const POSTGRES_STREAM_CHANNEL = 'tradedb_event_stream';

/**
 * Without Redis, the outbox is the stream: the relay's claim numbers the rows from
 * shared.event_stream_seq (in the relay's transaction, one relay at a time, so numbers grow in
 * commit order and consumer cursors never skip), and publishing wakes the consumers.
 */
export class PostgresStreamSink implements StreamSink {
  readonly kind = 'postgres';

  async identity(): Promise<string> {
    return 'postgres';
  }

  async publish(client: pg.PoolClient): Promise<void> {
    await client.query('SELECT pg_notify($1, \'\')', [POSTGRES_STREAM_CHANNEL]);
  }
}
