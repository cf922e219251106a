import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { FLOW_RUN_STATES, FlowRunRepository } from '../../orchestration/flow-run-repository.ts';

/** GET /flows/runs: flow runs with their state and duration, newest first. */
export const flowRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    const runs = new FlowRunRepository(pools.orchestration);
    app.get('/flows/runs', {
      config: { scope: 'read' },
      schema: {
        summary: 'Flow runs, newest first',
        querystring: z.strictObject({
          name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'expected a flow name').optional(),
          state: z.enum(FLOW_RUN_STATES).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
      },
    }, async (request) => ({ runs: await runs.list({ flowName: request.query.name, state: request.query.state, limit: request.query.limit }) }));
  };
