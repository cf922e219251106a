import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEventBus } from '../../src/events/event-bus.ts';
import { busConfig, openEventDatabase, type EventDatabase } from '../support/event-harness.ts';

// How the outbox is stored: claims rewrite rows on their own pages, and retention's prune finds
// old rows through the BRIN index on published_at (migration 0018); event ids are time-ordered (0021).
let db: EventDatabase;
const bus = createEventBus(busConfig(undefined));

beforeAll(async () => {
  db = await openEventDatabase('outboxstore');
});
afterAll(async () => {
  await bus.close();
  await db?.close();
});

/** `count` pending position events written in one statement, as full pages. */
async function writePending(count: number): Promise<void> {
  await db.admin.query(
    `INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, payload)
     SELECT 'positions', 'position.changed', 'position', 'acct-e/S' || (i % 10), i,
            jsonb_build_object('accountId', 'acct-e', 'symbol', 'S' || (i % 10), 'quantity', i::text, 'averageCost', '1', 'realizedPnl', '0', 'version', i)
       FROM generate_series(1, $1) AS i`,
    [count],
  );
}

it("a claim writes each row's new version on the row's own page (logged as the changed bytes, not the whole row)", async () => {
  await db.admin.query('TRUNCATE shared.event_outbox');
  await writePending(500);
  const pageOf = async () =>
    new Map(
      (await db.admin.query<{ event_id: string; page: string }>("SELECT event_id, split_part(trim(ctid::text, '()'), ',', 1) AS page FROM shared.event_outbox")).rows.map(
        (row) => [row.event_id, row.page],
      ),
    );
  const before = await pageOf();
  const relay = bus.createRelay({ pool: db.owner });
  let sent = 0;
  for (let batch = await relay.relayOnce(); batch.progressed; batch = await relay.relayOnce()) sent += batch.sent;
  expect(sent).toBe(500);
  const after = await pageOf();
  const moved = [...before].filter(([eventId, page]) => after.get(eventId) !== page).length;
  // With full pages (fillfactor 100) every new version went to another page; with room for half
  // a page of new versions, only a page's last row may not fit (the claimed row is a little longer).
  expect(moved).toBeLessThan(500 * 0.2);
});

it("retention's prune deletes published rows older than retention, and keeps newer and pending ones", async () => {
  await db.admin.query('TRUNCATE shared.event_outbox');
  await writePending(300);
  const relay = bus.createRelay({ pool: db.owner, retentionMs: 3_600_000 });
  for (let batch = await relay.relayOnce(); batch.progressed; batch = await relay.relayOnce());
  // 100 published two hours ago, 100 a minute ago, 100 still pending.
  await db.admin.query(`UPDATE shared.event_outbox SET published_at = now() - interval '2 hours' WHERE aggregate_version <= 100`);
  await db.admin.query(`UPDATE shared.event_outbox SET published_at = now() - interval '1 minute' WHERE aggregate_version BETWEEN 101 AND 200`);
  await db.admin.query(`UPDATE shared.event_outbox SET published_at = NULL, published_to = NULL, stream_seq = NULL WHERE aggregate_version > 200`);
  await relay.prune();
  const { rows } = await db.admin.query<{ versions: string; pending: number }>(
    "SELECT min(aggregate_version) || '-' || max(aggregate_version) AS versions, count(*) FILTER (WHERE published_at IS NULL)::int AS pending FROM shared.event_outbox",
  );
  expect(rows[0]).toEqual({ versions: '101-300', pending: 100 });
});

it('events get time-ordered ids (UUID version 7) whether a trigger or publish_event writes them; an id given by the producer is kept', async () => {
  await db.admin.query('TRUNCATE shared.event_outbox');
  const startedMs = Date.now();
  await writePending(3);
  await new Promise((resolve) => setTimeout(resolve, 5));
  await db.admin.query("SELECT shared.publish_event('positions', 'position.changed', 'position', 'acct-e/S1', 99, '{}'::jsonb)");
  await db.admin.query("SELECT shared.publish_event('positions', 'position.changed', 'position', 'acct-e/S2', 1, '{}'::jsonb, NULL, NULL, '11111111-2222-4333-8444-555555555555')");
  const { rows } = await db.admin.query<{ event_id: string }>('SELECT event_id::text FROM shared.event_outbox ORDER BY id');
  const generated = rows.slice(0, 4).map((row) => row.event_id);
  for (const id of generated) {
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const millis = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(millis - startedMs)).toBeLessThan(60_000);
  }
  // Later events sort after earlier ones (the one published 5 ms later last).
  expect(generated[3]! > generated[2]!).toBe(true);
  expect(rows[4]!.event_id).toBe('11111111-2222-4333-8444-555555555555');
});
