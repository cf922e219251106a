import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { OrderService } from '../../services/execution/order-service.ts';
import { ORDER_SIDES, ORDER_TYPES, TIMES_IN_FORCE } from '../../services/execution/order-table.ts';
import { accountId, limitParam } from '../api-schemas.ts';

/** Decimals travel as strings, so no digit is lost on the way (the services validate them). */
const decimal = z.string().max(40);

/** GET /orders, POST /orders (the pre-trade risk check runs in the order's transaction), POST /orders/:id/cancel. */
export const orderRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    const orders = new OrderService(pools.services.execution);

    app.get('/orders', {
      config: { scope: 'read' },
      schema: {
        summary: "An account's orders, newest first",
        querystring: z.strictObject({ account: accountId, open: z.enum(['true', 'false']).optional(), limit: limitParam(1000, 100) }),
      },
    }, async (request) => ({ orders: await orders.list(request.query.account, { open: request.query.open === 'true', limit: request.query.limit }) }));

    app.post('/orders', {
      config: { scope: 'trade' },
      schema: {
        summary: 'Place an order; the Idempotency-Key header is its client order id (a retry with the same key and content returns the same order)',
        headers: z.object({ 'idempotency-key': z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces') }),
        body: z.strictObject({
          account: accountId,
          symbol: z.string().min(1).max(32),
          side: z.enum(ORDER_SIDES),
          type: z.enum(ORDER_TYPES).default('market'),
          timeInForce: z.enum(TIMES_IN_FORCE).default('day'),
          quantity: decimal,
          limitPrice: decimal.optional(),
          stopPrice: decimal.optional(),
        }),
      },
    }, async (request, reply) => {
      const body = request.body;
      const placed = await orders.place({
        accountId: body.account,
        clientOrderId: request.headers['idempotency-key'],
        symbol: body.symbol,
        side: body.side,
        orderType: body.type,
        timeInForce: body.timeInForce,
        quantity: body.quantity,
        limitPrice: body.limitPrice ?? null,
        stopPrice: body.stopPrice ?? null,
      });
      void reply.code(placed.created ? 201 : 200);
      return { order: placed.order, created: placed.created };
    });

    app.post('/orders/:id/cancel', {
      config: { scope: 'trade' },
      schema: {
        summary: 'Cancel an open order; with expectedVersion, only if nobody changed it since (409 otherwise)',
        params: z.strictObject({ id: z.coerce.number().int().positive() }),
        body: z.strictObject({ account: accountId, expectedVersion: z.number().int().positive().optional() }),
      },
    }, async (request) => ({ order: await orders.cancel(request.body.account, request.params.id, { expectedVersion: request.body.expectedVersion }) }));
  };
