import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { ANALYTICS_PERIODS, PortfolioAnalytics } from '../../services/analytics/portfolio-analytics.ts';
import { StrategyService } from '../../services/strategy-engine/strategy-service.ts';
import { accountId, limitParam } from '../api-schemas.ts';

/**
 * GET /portfolio, /performance (the stored rows live analytics and the end-of-day flow keep
 * current, inside the account's row-level security), /strategies, /strategies/:id/signals.
 */
export const analyticsRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    const analytics = new PortfolioAnalytics(pools.services.analytics);
    const strategies = new StrategyService(pools.services.strategy_engine);

    app.get('/portfolio', {
      config: { scope: 'read' },
      schema: { summary: "An account's portfolio summaries (cash, market value, exposure, P&L), newest first", querystring: z.strictObject({ account: accountId, limit: limitParam(1000, 30) }) },
    }, async (request) => ({ summaries: await analytics.storedSummaries(request.query.account, request.query.limit) }));

    app.get('/performance', {
      config: { scope: 'read' },
      schema: {
        summary: "An account's performance metrics (returns, volatility, Sharpe, drawdown, win rate), newest period first",
        querystring: z.strictObject({ account: accountId, period: z.enum(ANALYTICS_PERIODS).optional(), limit: limitParam(1000, 30) }),
      },
    }, async (request) => ({ performance: await analytics.storedPerformance(request.query.account, request.query.period, request.query.limit) }));

    app.get('/strategies', { config: { scope: 'read' }, schema: { summary: 'Strategies: kind, parameters, status, version' } }, async () => ({ strategies: await strategies.list() }));

    app.get('/strategies/:id/signals', {
      config: { scope: 'read' },
      schema: { summary: "A strategy's latest signals", params: z.strictObject({ id: z.coerce.number().int().positive() }), querystring: z.strictObject({ limit: limitParam(1000, 100) }) },
    }, async (request) => ({ signals: await strategies.signals(request.params.id, request.query.limit) }));
  };
