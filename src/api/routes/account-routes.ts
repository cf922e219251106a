import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { withAccountTransaction } from '../../db/account-transaction.ts';
import type { Pools } from '../../db/pools.ts';
import { positionRepository } from '../../services/execution/position-repository.ts';
import { RiskLimitService } from '../../services/risk-management/risk-limit-service.ts';
import { accountQuery } from '../api-schemas.ts';

/** GET /positions, /risk/limits, /risk/events: an account's rows, inside its row-level security. */
export const accountRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    const risk = new RiskLimitService(pools.services.risk_management);

    app.get('/positions', { config: { scope: 'read' }, schema: { summary: "An account's positions", querystring: accountQuery } }, async (request) => ({
      positions: await withAccountTransaction(pools.services.execution, request.query.account, (client) => positionRepository.list(client, request.query.account), { readOnly: true }),
    }));
    app.get('/risk/limits', { config: { scope: 'read' }, schema: { summary: "An account's risk limits", querystring: accountQuery } }, async (request) => ({
      limits: await risk.limits(request.query.account),
    }));
    app.get('/risk/events', { config: { scope: 'read' }, schema: { summary: "An account's recent risk breaches", querystring: accountQuery } }, async (request) => ({
      events: await risk.events(request.query.account),
    }));
  };
