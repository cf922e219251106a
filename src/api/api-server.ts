import { randomUUID } from 'node:crypto';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Pools } from '../db/pools.ts';
import type { EventBus } from '../events/event-bus.ts';
import { withCorrelation } from '../shared/correlation.ts';
import { authorize, TokenCheck } from './api-auth.ts';
import { ApiError, sendApiError } from './api-error.ts';
import { createApiMetrics } from './metrics.ts';
import { LiveEventFeed } from './live-event-feed.ts';
import { accountRoutes } from './routes/account-routes.ts';
import { analyticsRoutes } from './routes/analytics-routes.ts';
import { dashboardRoutes } from './routes/dashboard-routes.ts';
import { eventRoutes } from './routes/event-routes.ts';
import { flowRoutes } from './routes/flow-routes.ts';
import { healthRoutes } from './routes/health-routes.ts';
import { marketDataRoutes } from './routes/market-data-routes.ts';
import { monitoringRoutes } from './routes/monitoring-routes.ts';
import { orderRoutes } from './routes/order-routes.ts';

export interface ApiServerOptions {
  pools: Pools;
  /** Requests per minute one token (or, before authentication, one address) may make. */
  rateLimitPerMinute?: number;
  /** Largest request body, in bytes. */
  bodyLimit?: number;
  /** The event bus: live events at /events, Redis in /health, the consumer groups' lag in /metrics (without it: no live events, the outbox backlog only). */
  bus?: EventBus;
  /** How long a checked token is believed (default 5 s): a revoked token works at most this long. */
  tokenCacheMs?: number;
  /** How often an open /events stream gets a heartbeat and its token is checked again (default 15 s). */
  eventHeartbeatMs?: number;
}

/**
 * The HTTP API (Fastify): zod schemas for every parameter (unknown fields refused), an OpenAPI
 * document with a docs page at /docs, bearer tokens with scopes on every route but /health,
 * a rate limit per token, security headers, a body limit, and errors as JSON with a code and the
 * field at fault, never a stack trace; Prometheus metrics at /metrics. Each request runs under its own correlation id, with the
 * token as the audit trail's actor (`api:<token name>`).
 */
export async function buildApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  // Tokens are checked through the logging service's role (migration 0012): the API holds no owner connection.
  const tokens = new TokenCheck(options.pools.services.logging, options.tokenCacheMs ?? 5_000);
  // Request ids are the correlation ids of logs and events: unique across processes and restarts.
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 64 * 1024, genReqId: () => randomUUID() }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(sendApiError);
  app.setNotFoundHandler((request, reply) => sendApiError(new ApiError(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}.`), request, reply));

  // The docs page loads its own scripts and styles: helmet's default CSP would block them there.
  await app.register(fastifyHelmet, { contentSecurityPolicy: false });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'tradedb API', version: '0.1.0', description: 'Market data, orders and positions of a tradedb trading system.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyRateLimit, {
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: '1 minute',
    keyGenerator: (request) => (request.token ? `token:${request.token.id}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => new ApiError(429, 'rate_limited', `More than ${context.max} requests a minute: retry in ${Math.ceil(context.ttl / 1000)} s.`),
    hook: 'preHandler',
  });

  // Every answer, refusals included: the caller can find what its request did
  // (tradedb logs --correlation ID, GET /logs?correlation=ID).
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-correlation-id', request.id);
  });
  // Authenticated before the rate limit counts (preHandler), so the limit is per token.
  app.addHook('onRequest', async (request) => authorize(request, tokens));
  app.addHook('preHandler', (request, _reply, done) => {
    withCorrelation({ correlationId: request.id, actor: request.token ? `api:${request.token.name}` : undefined }, done);
  });

  const feed = options.bus && new LiveEventFeed(options.bus, options.pools.services.logging);
  if (feed) app.addHook('onClose', async () => feed.close());

  await app.register(healthRoutes(options.pools, options.bus));
  await app.register(marketDataRoutes(options.pools));
  await app.register(orderRoutes(options.pools));
  await app.register(accountRoutes(options.pools));
  await app.register(analyticsRoutes(options.pools));
  await app.register(flowRoutes(options.pools));
  await app.register(monitoringRoutes(options.pools));
  await app.register(eventRoutes(feed, tokens, options.eventHeartbeatMs));
  await app.register(dashboardRoutes);

  const metrics = createApiMetrics(options.pools, options.bus);
  app.addHook('onClose', async () => metrics.stop());
  app.get('/metrics', { config: { scope: 'read' }, schema: { summary: 'Prometheus metrics (text format)', hide: true } }, async (_request, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}
