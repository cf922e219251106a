import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const require = createRequire(import.meta.url);

/** The dashboard's files, read once: the page holds no data (the API, with a token, does). */
const ASSETS: Record<string, { type: string; file: string }> = {
  '/': { type: 'text/html; charset=utf-8', file: path.join(WEB_DIR, 'dashboard.html') },
  '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', file: path.join(WEB_DIR, 'dashboard.js') },
  '/assets/dashboard.css': { type: 'text/css; charset=utf-8', file: path.join(WEB_DIR, 'dashboard.css') },
  // The standalone build (window.LightweightCharts), which the package's exports do not list.
  '/assets/lightweight-charts.js': { type: 'text/javascript; charset=utf-8', file: path.join(path.dirname(require.resolve('lightweight-charts/package.json')), 'dist/lightweight-charts.standalone.production.js') },
};

/** GET / (the dashboard) and its assets, without a token. */
export const dashboardRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const [url, asset] of Object.entries(ASSETS)) {
    const content = readFileSync(asset.file);
    app.get(url, { schema: { hide: true } }, async (_request, reply) => reply.type(asset.type).header('cache-control', 'no-cache').send(content));
  }
};
