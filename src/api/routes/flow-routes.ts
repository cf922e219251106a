import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { FLOW_RUN_STATES, FlowRunRepository } from '../../orchestration/flow-run-repository.ts';
import { triggerFlow } from '../../orchestration/flow-trigger.ts';
import { FLOWS } from '../../orchestration/flows.ts';
import { BackupCatalog } from '../../ops/backup-catalog.ts';
import { limitParam } from '../api-schemas.ts';

const FLOW_NAMES = FLOWS.map((flow) => flow.name) as [string, ...string[]];
/** The flow POST /backups runs (the scheduled weekly one, started now). */
const BACKUP_FLOW = 'weekly-backup';
const schemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a schema name');

/**
 * GET /flows/runs, POST /flows/:name/runs (queue a run now: the worker picks it up), GET /backups
 * and POST /backups (a backup is a run of the backup flow, so it shows with the other runs).
 */
export const flowRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    const runs = new FlowRunRepository(pools.orchestration);
    const backups = new BackupCatalog(pools.orchestration);

    app.get('/flows/runs', {
      config: { scope: 'read' },
      schema: {
        summary: 'Flow runs, newest first',
        querystring: z.strictObject({
          name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'expected a flow name').optional(),
          state: z.enum(FLOW_RUN_STATES).optional(),
          limit: limitParam(500, 50),
        }),
      },
    }, async (request) => ({ runs: await runs.list({ flowName: request.query.name, state: request.query.state, limit: request.query.limit }) }));

    app.post('/flows/:name/runs', {
      config: { scope: 'admin' },
      schema: {
        summary: "Queue a run of a flow now, with parameters checked against the flow's schema (202: a worker runs it; follow it in GET /flows/runs)",
        params: z.strictObject({ name: z.enum(FLOW_NAMES) }),
        body: z.strictObject({ parameters: z.record(z.string(), z.unknown()).default({}) }).default({ parameters: {} }),
      },
    }, async (request, reply) => {
      void reply.code(202);
      return { run: await triggerFlow(pools, request.params.name, request.body.parameters) };
    });

    app.get('/backups', {
      config: { scope: 'read' },
      schema: {
        summary: 'Backups in the catalogue, newest first: file, size, rows, verification',
        querystring: z.strictObject({ pruned: z.enum(['true', 'false']).optional(), limit: limitParam(500, 50) }),
      },
    }, async (request) => ({ backups: await backups.list({ includePruned: request.query.pruned === 'true', limit: request.query.limit }) }));

    app.post('/backups', {
      config: { scope: 'admin' },
      schema: {
        summary: `Start a backup (a run of ${BACKUP_FLOW}; default: the key schemas) — 202 with the run; it appears in GET /backups when done`,
        body: z.strictObject({ schemas: z.array(schemaName).min(1).max(16).optional(), all: z.boolean().optional() }).default({}),
      },
    }, async (request, reply) => {
      void reply.code(202);
      return { run: await triggerFlow(pools, BACKUP_FLOW, request.body) };
    });
  };
