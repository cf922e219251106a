import { afterAll, beforeAll, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/transaction.ts';
import { withCorrelation } from '../../src/shared/correlation.ts';
import { EVENT_CATALOG, isEventType } from '../../src/events/event-catalog.ts';
import { ENVELOPE_COLUMNS_SQL, ENVELOPE_SQL, envelopeJson, InvalidEventError, validatePayload, type EnvelopeColumns, type EventEnvelope } from '../../src/events/event-envelope.ts';
import { publishEvent } from '../../src/events/event-publisher.ts';
import { executeOrder } from '../../src/services/execution/order-execution.ts';
import { OrderService } from '../../src/services/execution/order-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

let trading: TradingDatabase;

beforeAll(async () => {
  trading = await openTradingDatabase('outbox', { accounts: ['acct-o'], symbols: ['OUTB'] });
});
afterAll(() => trading?.close());

/** The outbox's events as they travel (read as plain JSON, unchecked: the tests check them). */
async function outbox(): Promise<EventEnvelope[]> {
  return (await trading.admin.query<{ envelope: EventEnvelope }>(`SELECT ${ENVELOPE_SQL}::json AS envelope FROM shared.event_outbox o ORDER BY id`)).rows.map((row) => row.envelope);
}

it('the order flow writes its events in its own transaction, each matching the catalogue', async () => {
  await trading.admin.query('TRUNCATE shared.event_outbox');
  await withCorrelation({ correlationId: 'corr-flow-1' }, () =>
    executeOrder(trading.pool, { accountId: 'acct-o', symbol: 'OUTB', side: 'buy', quantity: '10' }, { brokerFillId: 'o-1', quantity: '10', price: '12.5' }),
  );
  const orders = new OrderService(trading.pool);
  const { order } = await orders.place({ accountId: 'acct-o', symbol: 'OUTB', side: 'sell', quantity: '3', orderType: 'limit', limitPrice: '20' });
  await orders.cancel('acct-o', order.id);

  const rows = await outbox();
  expect(rows.map((row) => row.type)).toEqual(['order.placed', 'position.changed', 'trade.executed', 'order.placed', 'order.updated']);
  for (const row of rows) {
    expect(isEventType(row.type)).toBe(true);
    expect(() => validatePayload(row.type, row.payload)).not.toThrow();
    expect(row.topic).toBe(EVENT_CATALOG[row.type].topic);
  }
  const [placed, position, trade] = rows;
  expect(placed!.payload).toMatchObject({ accountId: 'acct-o', status: 'filled', filledQuantity: '10', averageFillPrice: '12.5' });
  expect(position!.payload).toMatchObject({ quantity: '10', averageCost: '12.5' });
  expect(position!.aggregate).toEqual({ type: 'position', id: 'acct-o/OUTB', version: 2 });
  expect(trade!.payload).toMatchObject({ brokerFillId: 'o-1', price: '12.5' });
  // The correlation of the work reached the rows the triggers wrote.
  expect(rows.slice(0, 3).map((row) => row.correlationId)).toEqual(['corr-flow-1', 'corr-flow-1', 'corr-flow-1']);
  expect(rows[4]!.payload).toMatchObject({ fromStatus: 'pending', status: 'cancelled' });
});

it('a rolled-back change leaves no event', async () => {
  await trading.admin.query('TRUNCATE shared.event_outbox');
  await expect(
    withTransaction(trading.pool, async (tx) => {
      await tx.query("SELECT shared.act_for_account('acct-o')");
      await tx.query("INSERT INTO execution.orders (account_id, client_order_id, symbol, side, order_type, quantity) VALUES ('acct-o', 'rb-1', 'OUTB', 'buy', 'market', 1)");
      throw new Error('changed my mind');
    }),
  ).rejects.toThrow('changed my mind');
  expect(await outbox()).toEqual([]);
});

it('risk breaches, signals, finished ingestion runs and configuration changes are events too', async () => {
  await trading.admin.query('TRUNCATE shared.event_outbox');
  const strategy = (await trading.admin.query<{ id: number }>("INSERT INTO strategy_engine.strategies (name) VALUES ('outbox-test') RETURNING id")).rows[0]!.id;
  await trading.admin.query("INSERT INTO strategy_engine.strategy_signals (strategy_id, symbol, signal_type, strength) VALUES ($1, 'OUTB', 'buy', 0.5)", [strategy]);
  await trading.admin.query("INSERT INTO risk_management.risk_events (account_id, event_type, severity, detail) VALUES ('acct-o', 'max_order_notional', 'warning', 'too big')");
  const run = (await trading.admin.query<{ id: number }>("INSERT INTO data_ingestion.ingestion_runs (source, interval) VALUES ('csv', '1d') RETURNING id")).rows[0]!.id;
  await trading.admin.query("UPDATE data_ingestion.ingestion_runs SET rows_read = 5 WHERE id = $1", [run]);
  await trading.admin.query("UPDATE data_ingestion.ingestion_runs SET status = 'succeeded', finished_at = now() WHERE id = $1", [run]);
  await trading.admin.query(`INSERT INTO shared.system_config (key, value) VALUES ('outbox.test', '{"on": true}')`);

  const rows = await outbox();
  expect(rows.map((row) => row.type)).toEqual(['signal.generated', 'risk.breached', 'ingestion.run_finished', 'config.changed']);
  for (const row of rows) expect(() => validatePayload(row.type, row.payload)).not.toThrow();
  expect(rows[2]!.payload).toMatchObject({ runId: Number(run), status: 'succeeded', rowsRead: 5 });
});

it('publishEvent checks the payload, names the bad field and writes nothing; a repeated event id is stored once', async () => {
  await trading.admin.query('TRUNCATE shared.event_outbox');
  const bad = publishEvent(trading.pools.services.logging, {
    type: 'backup.completed',
    aggregate: { type: 'backup', id: 'f1' },
    payload: { file: 'f1', database: 'trading_system', schemas: ['analytics'], sizeBytes: -1, durationMs: 5 },
  });
  await expect(bad).rejects.toBeInstanceOf(InvalidEventError);
  await expect(bad).rejects.toMatchObject({ field: 'payload.sizeBytes' });
  await expect(
    publishEvent(trading.pools.services.logging, { type: 'no.such_event' as never, aggregate: { type: 'x', id: '1' }, payload: {} as never }),
  ).rejects.toMatchObject({ field: 'type' });
  expect(await outbox()).toEqual([]);

  const request = {
    type: 'backup.completed' as const,
    aggregate: { type: 'backup', id: 'f2' },
    payload: { file: 'f2', database: 'trading_system', schemas: ['analytics'], sizeBytes: 10, durationMs: 5 },
    eventId: '6f1c2a9e-2f0b-4c9a-9a57-0d4f5b8e3c21',
  };
  expect(await publishEvent(trading.pools.services.logging, request)).toBe(request.eventId);
  expect(await publishEvent(trading.pools.services.logging, request)).toBeNull();
  expect((await outbox()).length).toBe(1);
});

it('service roles cannot write the outbox directly, only through publish_event', async () => {
  await expect(
    trading.pool.query("INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, payload) VALUES ('orders', 'order.placed', 'order', 'x', '{}')"),
  ).rejects.toMatchObject({ code: '42501' });
});

it("the relay's envelope, built from the row's columns, is ENVELOPE_SQL's text byte for byte", async () => {
  await trading.admin.query('TRUNCATE shared.event_outbox');
  const insert = `INSERT INTO shared.event_outbox (topic, event_type, aggregate_type, aggregate_id, aggregate_version, correlation_id, causation_id, payload, occurred_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
  await trading.admin.query(insert, ['orders', 'order.placed', 'order', 'acct/1', 7, null, null, { a: 1 }, '2026-01-02 03:04:05.678912+00']);
  await trading.admin.query(insert, [
    'risk', 'risk.breached', 'ty"pe\\', 'id \n\t\u0001 é ✓ \u2028 \u007f', null, 'corr "q"', 'cause\b\f\r/',
    { nested: { x: [1, 'two', null, 1.5e30] }, s: '"quoted" \\ \u0000x'.replace('\u0000', '\u0002') }, '1999-12-31 23:59:59.9999+00',
  ]);
  const { rows } = await trading.admin.query<EnvelopeColumns & { envelope: string }>(`SELECT ${ENVELOPE_COLUMNS_SQL}, ${ENVELOPE_SQL} AS envelope FROM shared.event_outbox o ORDER BY id`);
  expect(rows.length).toBe(2);
  for (const row of rows) expect(envelopeJson(row)).toBe(row.envelope);
});

it('the order flow and its triggers call no SQL-language function the planner could not inline (it would be planned again on every call)', async () => {
  // track_functions (a superuser setting, so here on the admin session) counts the functions
  // that were called: an inlined SQL function is not one of them.
  const admin = trading.admin;
  await admin.query("SET track_functions = 'all'");
  try {
    await admin.query('SELECT pg_stat_reset()');
    await admin.query("SELECT set_config('tradedb.actor', 'test', false)");
    // An order that fills at once, and one placed and cancelled: every trigger of the flow.
    await admin.query("SELECT 1 FROM execution.execute_order('acct-o', 'o-inline-1', 'OUTB', 'buy', 'market', 'day', 2, NULL, NULL, NULL, NULL, 'o-inline-1', 2, 13, 0, now())");
    const placed = await admin.query<{ id: string }>("SELECT (order_row).id FROM execution.place_order('acct-o', 'o-inline-2', 'OUTB', 'sell', 'limit', 'day', 1, 20, NULL, NULL, NULL)");
    await admin.query("SELECT 1 FROM execution.change_order_status('acct-o', $1, 'cancelled', 'test')", [placed.rows[0]!.id]);
    await admin.query('SELECT pg_stat_force_next_flush()');
    await admin.query('SELECT pg_stat_clear_snapshot()');
    const { rows: called } = await admin.query<{ name: string; language: string }>(
      `SELECT f.schemaname || '.' || f.funcname AS name, l.lanname AS language
         FROM pg_stat_user_functions f JOIN pg_proc p ON p.oid = f.funcid JOIN pg_language l ON l.oid = p.prolang
        WHERE f.calls > 0 ORDER BY 1`,
    );
    // The flow ran here (its PL/pgSQL functions and triggers were counted) ...
    expect(called.map((row) => row.name)).toEqual(expect.arrayContaining(['execution.execute_order', 'execution.publish_order_inserts', 'execution.publish_order_updates', 'execution.publish_positions']));
    // ... and no SQL-language function was called as a function.
    expect(called.filter((row) => row.language === 'sql')).toEqual([]);
  } finally {
    await admin.query('RESET track_functions');
  }
});
