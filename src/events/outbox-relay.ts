import type pg from 'pg';
import { listenForNotifications, type NotificationListener } from '../db/notification-listener.ts';
import { withTransaction } from '../db/transaction.ts';
import { ENVELOPE_COLUMNS_SQL, envelopeJson, type EnvelopeColumns } from './event-envelope.ts';
import type { ClaimedEvent, StreamSink } from './stream-sink.ts';
import { Wakeup } from './wakeup.ts';

const DEFAULT_BATCH_SIZE = 2500;
const DEFAULT_GATHER_MS = 10;
const DEFAULT_AWAKE_MS = 50;

/** Writers hold it shared from their event to their commit (shared.notify_outbox); a relay going to sleep takes it exclusively. */
const SLEEP_LOCK = "hashtext('tradedb.outbox-relay.sleep')";

export interface OutboxRelayOptions {
  /** The owner role's pool (the relay reads and marks the outbox, which no service role may). */
  pool: pg.Pool;
  sink: StreamSink;
  /** Published rows are deleted after this long (processed-event marks after twice as long). */
  retentionMs: number;
  /** Rows per batch; default 2500 (about 8 % more events a second than 1000 in the events bench). */
  batchSize?: number;
  /** Batches claimed in one transaction for a Redis sink, each published while the next is claimed; default 4. */
  claimsPerTransaction?: number;
  /** Looks for work this often even without a notification; default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * A claim that drained the outbox is followed by the next one no sooner than this, so that under
   * a steady stream of small commits one claim gathers several of them (each claim is a
   * transaction of five statements and a publish, whatever it carries); default 10 ms. A backlog
   * is claimed back to back, and the first event after a quiet spell goes at once.
   */
  gatherMs?: number;
  /**
   * A relay that found events stays awake — claiming every gather window on its own, and telling
   * writers (shared.outbox_relay_watch, migration 0017) that they need not NOTIFY it, since a
   * NOTIFY serializes their commits — until this long passes without an event; then it sleeps
   * until notified again. Default 50 ms.
   */
  awakeMs?: number;
  /** Prunes this often; default 60 s. */
  pruneIntervalMs?: number;
  onError?: (error: unknown) => void;
  /** Runs after the sink has the batch and before the transaction marking it sent commits (tests crash here). */
  afterPublish?: (events: ClaimedEvent[]) => Promise<void> | void;
}

export interface RelayBatch {
  sent: number;
  progressed: boolean;
  drained: boolean;
}

export interface RelayStats {
  published: number;
  batches: number;
  replayed: number;
  errors: number;
}

/** shared.outbox_lanes' lanes. */
const ALL_LANES = Array.from({ length: 16 }, (_, lane) => lane);

/** Several relays may run; one publishes the PostgreSQL stream at a time. */
const POSTGRES_STREAM_LOCK = "hashtext('tradedb.outbox-relay.postgres-stream')";

/**
 * Moves outbox rows to the sink. Woken by the outbox trigger's NOTIFY, with polling as a safety
 * net. For Redis, a relay owns the lanes it could lock for one batch (their rows in
 * shared.outbox_lanes, FOR UPDATE SKIP LOCKED), so relays run side by side on different lanes and
 * one aggregate's events (one lane) go out in id order. Rows are marked sent in the transaction
 * that claims them, which commits after the sink has them: a relay that dies in between leaves
 * them pending, and they go again.
 */
export class OutboxRelay {
  readonly stats: RelayStats = { published: 0, batches: 0, replayed: 0, errors: 0 };
  private listener: NotificationListener | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly wakeup = new Wakeup();
  /** Backoff after an error is cut short by stop() only, not by new events. */
  private readonly stopping = new Wakeup();
  private lastPrune = 0;
  /** Awake: claiming every gather window on its own (see awakeMs). */
  private polling = false;
  /** What this relay last set shared.outbox_relay_watch.notify_writes to. */
  private writersNotify = true;

  constructor(private readonly options: OutboxRelayOptions) {}

  /** Starts relaying in the background until stop(). */
  async start(): Promise<void> {
    this.listener = await listenForNotifications(this.options.pool, 'tradedb_outbox', () => this.notify(), this.options.onError);
    // A relay that died awake may have left writers silent: this one sleeps until notified.
    await this.setNotifyWrites(true);
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    this.stopping.wake();
    await this.running;
    // Other relays (or the next one) depend on notifications again.
    if (!this.writersNotify) await this.setNotifyWrites(true).catch((error: unknown) => this.options.onError?.(error));
    await this.listener?.close();
  }

  /**
   * Publishes one batch. `sent` counts the rows sent; `progressed` is false when there was
   * nothing to do (or every lane was another relay's); `drained` is true when no claim came back
   * full (what was pending when it looked has gone).
   */
  async relayOnce(): Promise<RelayBatch> {
    const { sink } = this.options;
    const identity = await sink.identity();
    const batch = await withTransaction(this.options.pool, (client) =>
      sink.kind === 'redis' ? this.relayLanes(client, identity) : this.relayPostgresStream(client, identity),
    );
    if (batch.sent > 0) {
      this.stats.published += batch.sent;
      this.stats.batches += 1;
    }
    return batch;
  }

  /** Deletes published rows and processed-event marks past retention. */
  async prune(): Promise<void> {
    const retention = `${Math.ceil(this.options.retentionMs / 1000)} seconds`;
    await this.options.pool.query('DELETE FROM shared.event_outbox WHERE published_at < now() - $1::interval', [retention]);
    await this.options.pool.query("DELETE FROM shared.processed_events WHERE processed_at < now() - 2 * $1::interval", [retention]);
    await this.options.pool.query("DELETE FROM shared.event_consumer_failures WHERE last_failed_at < now() - 2 * $1::interval", [retention]);
  }

  /**
   * Locks every free lane (other relays hold the rest; asking which lanes have work would cost a
   * look into the outbox per lane, more than the claim) and publishes from them.
   */
  private async relayLanes(client: pg.PoolClient, identity: string): Promise<RelayBatch> {
    const lanes = await client.query<{ lane: number; sink: string | null }>('SELECT lane, sink FROM shared.outbox_lanes ORDER BY served_at FOR UPDATE SKIP LOCKED');
    if (lanes.rows.length === 0) return { sent: 0, progressed: false, drained: true };
    const stale = lanes.rows.filter((lane) => lane.sink !== identity).map((lane) => lane.lane);
    if (stale.length > 0) await this.replay(client, stale, identity);
    const locked = lanes.rows.map((lane) => lane.lane);
    const { sent, drained } = await this.claimAndPublish(client, identity, locked);
    if (sent > 0 || stale.length > 0) {
      await client.query('UPDATE shared.outbox_lanes SET sink = $2, served_at = clock_timestamp() WHERE lane = ANY($1::smallint[])', [locked, identity]);
    }
    return { sent, progressed: sent > 0 || stale.length > 0, drained: drained && stale.length === 0 };
  }

  private async relayPostgresStream(client: pg.PoolClient, identity: string): Promise<RelayBatch> {
    const lock = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_xact_lock(${POSTGRES_STREAM_LOCK}) AS locked`);
    if (!lock.rows[0]!.locked) return { sent: 0, progressed: false, drained: true };
    const switched = await client.query<{ lane: number }>(
      'UPDATE shared.outbox_lanes SET sink = $1, served_at = clock_timestamp() WHERE sink IS DISTINCT FROM $1 RETURNING lane',
      [identity],
    );
    if (switched.rows.length > 0) await this.replay(client, switched.rows.map((row) => row.lane), identity);
    const { sent, drained } = await this.claimAndPublish(client, identity, ALL_LANES);
    return { sent, progressed: sent > 0 || switched.rows.length > 0, drained: drained && switched.rows.length === 0 };
  }

  /** Rows a previous sink had are pending again (the new sink lacks them). */
  private async replay(client: pg.PoolClient, lanes: number[], identity: string): Promise<void> {
    const result = await client.query(
      `UPDATE shared.event_outbox SET published_at = NULL, published_to = NULL, stream_seq = NULL
        WHERE lane = ANY($1::smallint[]) AND published_at IS NOT NULL AND published_to <> $2`,
      [lanes, identity],
    );
    this.stats.replayed += result.rowCount ?? 0;
  }

  /**
   * Claims pending rows of `lanes` and marks them sent to `identity`, a batch per statement, and
   * hands each batch to the sink in id order; the marks commit only if the sink took every batch.
   * A Redis sink takes one batch while the next is claimed (up to claimsPerTransaction batches a
   * transaction; one connection keeps them in order). Returns how many rows went, and whether
   * the last claim came back short of a batch (nothing more was pending).
   */
  private async claimAndPublish(client: pg.PoolClient, identity: string, lanes: number[]): Promise<{ sent: number; drained: boolean }> {
    const { sink } = this.options;
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    const rounds = sink.kind === 'redis' ? (this.options.claimsPerTransaction ?? 4) : 1;
    // The claim must read the pending index in id order and stop after a batch. The planner
    // estimates `published_at IS NULL` from statistics taken when nearly every row was published
    // (or from none, after a TRUNCATE) and would rather bitmap-scan the few pending rows it expects
    // and sort them: with a backlog, that sorted the whole backlog on every claim (spilling to disk
    // at 50,000 rows). Without bitmap scans its choice is the ordered index scan. (Not enable_sort:
    // a statement that must sort, such as the PostgreSQL stream's numbering, would then cost
    // "disabled" and cross jit_above_cost, a 60 ms compilation per batch.)
    await client.query('SET LOCAL enable_bitmapscan = off');
    const claimed: ClaimedEvent[] = [];
    const publishing: Promise<void>[] = [];
    let publishFailed = false;
    let next: Promise<ClaimedEvent[]> | undefined = this.claim(client, identity, lanes, batchSize);
    let drained = false;
    try {
      for (let round = 0; next; round += 1) {
        const events: ClaimedEvent[] = await next;
        next = undefined;
        drained = events.length < batchSize;
        if (events.length === 0) break;
        // The next claim goes out before this batch's pipeline is built: the server claims while
        // this process builds and Redis takes the previous batch. Once a publish failed, no more.
        if (events.length === batchSize && round + 1 < rounds && !publishFailed) next = this.claim(client, identity, lanes, batchSize);
        const published = sink.publish(client, events, identity);
        // Handled here at once: it may fail while the next claim is awaited (Promise.all below reports it).
        published.catch(() => {
          publishFailed = true;
        });
        publishing.push(published);
        claimed.push(...events);
      }
    } finally {
      // Never leave a claim or publish running behind a failure: the transaction rolls back after it.
      await Promise.allSettled([...publishing, ...(next ? [next] : [])]);
    }
    await Promise.all(publishing);
    if (claimed.length > 0) await this.options.afterPublish?.(claimed);
    return { sent: claimed.length, drained };
  }

  /** One batch of pending rows of `lanes`, marked sent (ctid: no second lookup by key), in id order. */
  private async claim(client: pg.PoolClient, identity: string, lanes: number[], batchSize: number): Promise<ClaimedEvent[]> {
    // The claim reads the pending index in id order and stops after a batch (see claimAndPublish);
    // holding only some lanes, it skips the other lanes' rows on the way.
    const laneFilter = lanes.length === ALL_LANES.length ? '' : 'AND lane = ANY($3::smallint[])';
    // The envelope is built here from plain columns (envelopeJson): json_build_object in the
    // claim cost the server a quarter of the claim's time.
    // The PostgreSQL stream numbers the rows as they are claimed, in id order (one relay at a time
    // holds its lock, so numbers grow in commit order): one new version of each row, not two.
    const numbered = this.options.sink.kind === 'postgres';
    const pending = `SELECT ctid AS row_ctid, id FROM shared.event_outbox
                      WHERE published_at IS NULL ${laneFilter}
                      ORDER BY id
                      LIMIT $1
                        FOR UPDATE SKIP LOCKED`;
    const claimed = await client.query<EnvelopeColumns & { id: string }>(
      numbered
        ? `UPDATE shared.event_outbox o SET published_at = now(), published_to = $2, stream_seq = claimed.seq
             FROM (SELECT row_ctid, nextval('shared.event_stream_seq') AS seq FROM (${pending}) pending ORDER BY id) claimed
            WHERE o.ctid = claimed.row_ctid
           RETURNING o.id, ${ENVELOPE_COLUMNS_SQL}`
        : `UPDATE shared.event_outbox o SET published_at = now(), published_to = $2
            WHERE o.ctid = ANY(ARRAY(SELECT row_ctid FROM (${pending}) pending))
           RETURNING o.id, ${ENVELOPE_COLUMNS_SQL}`,
      laneFilter ? [batchSize, identity, lanes] : [batchSize, identity],
    );
    return claimed.rows
      .map((row): ClaimedEvent => ({ outboxId: BigInt(row.id), eventId: row.event_id, topic: row.topic, json: envelopeJson(row) }))
      .sort((a, b) => (a.outboxId < b.outboxId ? -1 : 1));
  }

  private notify(): void {
    this.wakeup.wake();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    const gatherMs = this.options.gatherMs ?? DEFAULT_GATHER_MS;
    const awakeMs = this.options.awakeMs ?? DEFAULT_AWAKE_MS;
    let lastEventAt = 0;
    while (!this.stopped) {
      try {
        const claimedAt = performance.now();
        const batch = await this.relayOnce();
        failures = 0;
        if (batch.progressed) {
          lastEventAt = performance.now();
          if (this.writersNotify) await this.setNotifyWrites(false);
          this.polling = true;
          // More is pending: go on at once.
          if (!batch.drained) continue;
        }
        if (Date.now() - this.lastPrune >= (this.options.pruneIntervalMs ?? 60_000)) {
          this.lastPrune = Date.now();
          await this.prune();
        }
        // Nothing came for a while: sleep, once no writer that saw this relay awake (and so did
        // not notify) is still to commit; the claim that follows sees what they wrote.
        if (this.polling && performance.now() - lastEventAt >= awakeMs && (await this.writersAllNotifying())) {
          this.polling = false;
          // A notification that came before now is stale: that claim looks anyway.
          this.wakeup.clear();
          continue;
        }
        if (this.polling) {
          // Awake: the next claim after the gather window, notified or not.
          const gatherRest = gatherMs - (performance.now() - claimedAt);
          if (gatherRest > 0) await this.stopping.wait(gatherRest);
          continue;
        }
        await this.wakeup.wait(this.options.pollIntervalMs ?? 1_000);
      } catch (error) {
        this.stats.errors += 1;
        this.options.onError?.(error);
        failures += 1;
        await this.stopping.wait(Math.min(50 * 2 ** failures, 2_000));
      }
    }
  }

  /**
   * Asks writers to notify again, and says whether every writer in flight does: none holds the
   * lock each writer holds from its event to its commit (a try, which never makes writers queue
   * behind it; a writer still in flight is tried again after the next gather window).
   */
  private async writersAllNotifying(): Promise<boolean> {
    if (!this.writersNotify) await this.setNotifyWrites(true);
    const { rows } = await this.options.pool.query<{ free: boolean }>(`SELECT pg_try_advisory_xact_lock(${SLEEP_LOCK}) AS free`);
    return rows[0]!.free;
  }

  /** shared.outbox_relay_watch.notify_writes: whether writers NOTIFY relays (migration 0017). */
  private async setNotifyWrites(notify: boolean): Promise<void> {
    await this.options.pool.query('UPDATE shared.outbox_relay_watch SET notify_writes = $1, changed_at = now()', [notify]);
    this.writersNotify = notify;
  }
}
