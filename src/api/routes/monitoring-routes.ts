import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { partitionList, slowestQueries, tableSizes } from '../../ops/database-health.ts';
import { ingestionRunRepository } from '../../services/data-ingestion/ingestion-run-repository.ts';
import { qualityLogRepository } from '../../services/data-ingestion/quality-log-repository.ts';
import { LOG_LEVELS, queryLogs } from '../../services/logging/log-query.ts';
import { ApiError } from '../api-error.ts';
import { instant, limitParam, symbolParam } from '../api-schemas.ts';

/** GET /logs (the centralized log, by correlation id), /quality (data quality issues), /database (pools, slow queries, sizes, partitions). */
export const monitoringRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/logs', {
      config: { scope: 'read' },
      schema: {
        summary: 'Log lines, newest last; with a correlation id also its events and timed operations (a signal’s whole path)',
        querystring: z.strictObject({
          correlation: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'expected a correlation id').optional(),
          level: z.enum(LOG_LEVELS as [string, ...string[]]).optional(),
          service: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'expected a service name').optional(),
          since: instant.optional(),
          limit: limitParam(2000, 200),
        }),
      },
    }, async (request) => {
      const { correlation, level, service, since, limit } = request.query;
      return { lines: await queryLogs(pools.services.logging, { correlationId: correlation, minLevel: level as (typeof LOG_LEVELS)[number] | undefined, service, since, limit }) };
    });

    app.get('/quality', {
      config: { scope: 'read' },
      schema: {
        summary: 'Rows ingestion refused (rule, detail, raw line): of one run, or the newest of all runs or of one symbol',
        querystring: z.strictObject({ run: z.coerce.number().int().positive().optional(), symbol: symbolParam.optional(), limit: limitParam(1000, 100) }),
      },
    }, async (request) => {
      const { run, symbol, limit } = request.query;
      const db = pools.services.data_ingestion;
      if (run === undefined) return { issues: await qualityLogRepository.recent(db, { symbol, limit }) };
      if (!(await ingestionRunRepository.find(db, run))) throw new ApiError(404, 'not_found', `There is no ingestion run ${run}.`, 'run');
      return { issues: await qualityLogRepository.forRun(db, run, limit) };
    });

    app.get('/database', {
      config: { scope: 'read' },
      schema: {
        summary: "Database health: each pool's connections, the slowest statements (pg_stat_statements), the largest tables, every partition",
        querystring: z.strictObject({ top: limitParam(100, 10) }),
      },
    }, async (request) => ({
      pools: Object.entries(pools.stats()).map(([pool, stats]) => ({ pool, ...stats })),
      // Other roles' statement texts need pg_read_all_stats, which logging_user has (migration 0012).
      slowestQueries: await slowestQueries(pools.services.logging, request.query.top),
      tables: await tableSizes(pools.services.logging, 20),
      partitions: await partitionList(pools.services.logging),
    }));
  };
