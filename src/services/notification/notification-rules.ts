import type { EventEnvelope } from '../../events/event-envelope.ts';

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a notification says, whatever the channel. */
export interface NotificationMessage {
  subject: string;
  text: string;
  severity: Severity;
  event: { eventId: string; type: string; aggregate: EventEnvelope['aggregate']; occurredAt: string; correlationId: string | null; payload: unknown };
}

/**
 * How serious an event is: its own `severity` when the payload carries one (risk breaches,
 * dead-lettered events), errors for failed runs and flows, warnings for partial runs and rejected
 * orders, information otherwise.
 */
export function eventSeverity(event: EventEnvelope): Severity {
  const payload = (event.payload ?? {}) as Record<string, unknown>;
  if (typeof payload.severity === 'string' && (SEVERITIES as readonly string[]).includes(payload.severity)) return payload.severity as Severity;
  if (event.type === 'ingestion.run_finished' || event.type === 'flow.run_finished') {
    const outcome = payload.status ?? payload.state;
    if (outcome === 'failed') return 'error';
    if (outcome === 'partial' || outcome === 'cancelled') return 'warning';
  }
  if (event.type === 'order.updated' && payload.status === 'rejected') return 'warning';
  return 'info';
}

/** Whether a config with these filters wants the event (empty `eventTypes`: every type). */
export function wants(config: { eventTypes: string[]; minSeverity: Severity }, event: EventEnvelope, severity: Severity): boolean {
  if (config.eventTypes.length > 0 && !config.eventTypes.includes(event.type)) return false;
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(config.minSeverity);
}

/** The message of an event: a one-line subject and a short text a person can act on. */
export function notificationMessage(event: EventEnvelope, severity: Severity): NotificationMessage {
  const payload = (event.payload ?? {}) as Record<string, unknown>;
  const about = `${event.aggregate.type} ${event.aggregate.id}`;
  let summary: string;
  switch (event.type) {
    case 'risk.breached':
      summary = `risk limit breached (${String(payload.eventType)}) on account ${String(payload.accountId)}: ${String(payload.detail)}`;
      break;
    case 'consumer.dead_lettered':
      summary = `event ${String(payload.eventType)} ${String(payload.eventId)} failed ${String(payload.attempts)} times in consumer ${String(payload.consumerGroup)} and was set aside: ${String(payload.error)}`;
      break;
    case 'ingestion.run_finished':
      summary = `ingestion run ${String(payload.runId)} (${String(payload.source)}) ${String(payload.status)}${payload.error ? `: ${String(payload.error)}` : ''}`;
      break;
    case 'flow.run_finished':
      summary = `flow ${String(payload.flowName)} run ${String(payload.runId)} ${String(payload.state)}${payload.error ? `: ${String(payload.error)}` : ''}`;
      break;
    default:
      summary = `${event.type} ${about}`;
  }
  return {
    subject: `[tradedb ${severity}] ${summary.length > 120 ? `${summary.slice(0, 117)}...` : summary}`,
    text: `${summary}\n\nevent ${event.type} ${event.eventId} of ${about} at ${event.occurredAt}${event.correlationId ? `\ncorrelation id ${event.correlationId} (tradedb logs --correlation ${event.correlationId})` : ''}`,
    severity,
    event: { eventId: event.eventId, type: event.type, aggregate: event.aggregate, occurredAt: event.occurredAt, correlationId: event.correlationId ?? null, payload: event.payload },
  };
}
