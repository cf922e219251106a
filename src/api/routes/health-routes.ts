import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Pools } from '../../db/pools.ts';

/** Milliseconds a database has to answer before it counts as down. */
const PROBE_TIMEOUT_MS = 2_000;

async function probe(run: () => Promise<unknown>): Promise<{ status: 'ok' | 'down'; ms: number; error?: string }> {
  const started = performance.now();
  try {
    await Promise.race([run(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref())]);
    return { status: 'ok', ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', ms: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

/** GET /health, without a token: each database answers or not (503 when one is down). */
export const healthRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/health', { schema: { summary: 'Whether each database answers (no token needed)' } }, async (_request, reply) => {
      const databases = {
        trading: await probe(() => pools.services.logging.query('SELECT 1')),
        orchestration: await probe(() => pools.orchestration.query('SELECT 1')),
      };
      const healthy = Object.values(databases).every((database) => database.status === 'ok');
      void reply.code(healthy ? 200 : 503);
      return { status: healthy ? 'ok' : 'degraded', databases };
    });
  };
