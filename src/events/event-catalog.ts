import { z } from 'zod';

/**
 * Every event type tradedb publishes: its topic (one Redis stream each) and the schema of its
 * payload. The trading tables' events are built by the outbox triggers of migration 0005 and
 * must parse here too (a test holds them to it); events the application publishes are checked
 * against these schemas before they are written.
 */

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/, 'expected a decimal number as text');
const id = z.number().int().positive();
const timestamp = z.iso.datetime({ offset: true });
const side = z.enum(['buy', 'sell']);
const severity = z.enum(['info', 'warning', 'error', 'critical']);

const orderPayload = z.object({
  accountId: z.string(),
  orderId: id,
  clientOrderId: z.string(),
  symbol: z.string(),
  side,
  orderType: z.enum(['market', 'limit', 'stop', 'stop_limit']),
  timeInForce: z.enum(['day', 'gtc', 'ioc', 'fok']),
  quantity: decimal,
  limitPrice: decimal.optional(),
  stopPrice: decimal.optional(),
  fromStatus: z.string().optional(),
  status: z.string(),
  filledQuantity: decimal,
  averageFillPrice: decimal.optional(),
  strategyId: id.optional(),
  signalId: id.optional(),
  version: id,
});

export const EVENT_CATALOG = {
  'order.placed': { topic: 'orders', payload: orderPayload },
  'order.updated': { topic: 'orders', payload: orderPayload.required({ fromStatus: true }) },
  'trade.executed': {
    topic: 'trades',
    payload: z.object({
      accountId: z.string(),
      tradeId: id,
      orderId: id,
      brokerFillId: z.string(),
      symbol: z.string(),
      side,
      quantity: decimal,
      price: decimal,
      fees: decimal,
      realizedPnl: decimal,
      executedAt: timestamp,
    }),
  },
  'position.changed': {
    topic: 'positions',
    payload: z.object({ accountId: z.string(), symbol: z.string(), quantity: decimal, averageCost: decimal, realizedPnl: decimal, version: id }),
  },
  'risk.breached': {
    topic: 'risk',
    payload: z.object({
      accountId: z.string(),
      riskEventId: id,
      riskLimitId: id.optional(),
      eventType: z.string(),
      severity,
      detail: z.string(),
      context: z.record(z.string(), z.unknown()),
      orderId: id.optional(),
      occurredAt: timestamp,
    }),
  },
  'signal.generated': {
    topic: 'signals',
    payload: z.object({
      signalId: id,
      strategyId: id,
      accountId: z.string().optional(),
      symbol: z.string(),
      signalType: z.enum(['buy', 'sell', 'hold', 'close']),
      strength: decimal.optional(),
      price: decimal.optional(),
      quantity: decimal.optional(),
      generatedAt: timestamp,
    }),
  },
  'ingestion.run_finished': {
    topic: 'ingestion',
    payload: z.object({
      runId: id,
      source: z.string(),
      interval: z.string().optional(),
      status: z.enum(['succeeded', 'partial', 'failed', 'cancelled']),
      rowsRead: z.number().int().nonnegative(),
      rowsInserted: z.number().int().nonnegative(),
      rowsUpdated: z.number().int().nonnegative(),
      rowsUnchanged: z.number().int().nonnegative(),
      rowsRejected: z.number().int().nonnegative(),
      error: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()),
      finishedAt: timestamp,
    }),
  },
  'config.changed': {
    topic: 'config',
    payload: z.object({ key: z.string(), value: z.unknown(), version: id, updatedBy: z.string() }),
  },
  'flow.run_finished': {
    topic: 'flows',
    payload: z.object({
      runId: id,
      flowName: z.string(),
      state: z.enum(['completed', 'failed', 'cancelled']),
      durationMs: z.number().nonnegative().optional(),
      error: z.string().optional(),
    }),
  },
  'backup.completed': {
    topic: 'backups',
    payload: z.object({ file: z.string(), database: z.string(), schemas: z.array(z.string()), sizeBytes: z.number().int().nonnegative(), durationMs: z.number().nonnegative() }),
  },
  'consumer.dead_lettered': {
    topic: 'dead-letter',
    payload: z.object({
      consumerGroup: z.string(),
      eventId: z.uuid(),
      eventType: z.string(),
      topic: z.string(),
      attempts: z.number().int().positive(),
      error: z.string(),
      event: z.record(z.string(), z.unknown()),
      severity,
    }),
  },
} as const;

export type EventType = keyof typeof EVENT_CATALOG;
export type EventPayload<T extends EventType> = z.infer<(typeof EVENT_CATALOG)[T]['payload']>;

export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

/** Every topic, i.e. every stream. */
export const TOPICS: string[] = [...new Set(EVENT_TYPES.map((type) => EVENT_CATALOG[type].topic))];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_CATALOG, value);
}

export function topicOf(type: EventType): string {
  return EVENT_CATALOG[type].topic;
}
