import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Pools } from '../../db/pools.ts';
import { INTERVALS } from '../../services/data-ingestion/interval.ts';
import { barAsJson, barsJsonArraySelect, resampleBars } from '../../services/data-ingestion/market-data-reader.ts';
import { SymbolService, UnknownSymbolError } from '../../services/data-ingestion/symbol-service.ts';
import { ApiError } from '../api-error.ts';
import { instant, symbolParam } from '../api-schemas.ts';
import { referenceDataRepository } from '../../services/data-ingestion/reference-data-repository.ts';

/** Most bars one GET /bars returns: a year of minutes is for `tradedb bars`, which streams. */
export const MAX_BARS = 50_000;

/** GET /symbols, /symbols/:symbol/company (profile, key statistics, holders), /bars/:symbol (with resampling). */
export const marketDataRoutes = (pools: Pools): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/symbols', {
      config: { scope: 'read' },
      schema: { summary: 'Instruments', querystring: z.strictObject({ status: z.enum(['active', 'delisted', 'suspended']).optional() }) },
    }, async (request) => ({ symbols: await new SymbolService(pools.services.data_ingestion).list(request.query.status) }));

    app.get('/symbols/:symbol/company', {
      config: { scope: 'read' },
      schema: { summary: "A symbol's company profile, latest key statistics and institutional holders (each null or empty until loaded)", params: z.strictObject({ symbol: symbolParam }) },
    }, async (request) => {
      const { symbol } = request.params;
      const db = pools.services.data_ingestion;
      // An unknown symbol is a 404, not an empty profile.
      if (!(await new SymbolService(db).get(symbol))) throw new UnknownSymbolError(symbol);
      return {
        symbol,
        company: (await referenceDataRepository.companyProfile(db, symbol)) ?? null,
        statistics: (await referenceDataRepository.keyStatistics(db, symbol)) ?? null,
        holders: await referenceDataRepository.institutionalHolders(db, symbol),
      };
    });

    app.get('/bars/:symbol', {
      config: { scope: 'read' },
      schema: {
        summary: 'Bars of one symbol, optionally resampled',
        params: z.strictObject({ symbol: symbolParam }),
        querystring: z.strictObject({
          interval: z.enum(INTERVALS).default('1d'),
          from: instant.optional(),
          to: instant.optional(),
          source: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'expected a source name').optional(),
          resample: z.enum(INTERVALS).optional(),
        }),
      },
    }, async (request, reply) => {
      const { symbol } = request.params;
      const { interval, from, to, source, resample } = request.query;
      const range = { symbol, interval, from, to, source };
      if (resample) {
        if (!source) throw new ApiError(400, 'invalid_request', 'query.source: a resample needs one source (volumes of two would add up)', 'source');
        return { symbol, interval: resample, bars: (await resampleBars(pools.services.data_ingestion, { ...range, source }, resample)).map(barAsJson) };
      }
      const client = await pools.services.data_ingestion.connect();
      try {
        // The bars arrive as the text of one JSON array, built by the server: sent on as they are,
        // with no JSON.parse of each row here and no JSON.stringify of them again.
        const { rows } = await client.query<{ count: number; bars: string }>(barsJsonArraySelect(range, client, MAX_BARS + 1));
        if (rows[0]!.count > MAX_BARS) throw new ApiError(400, 'too_many_bars', `More than ${MAX_BARS} bars: narrow from/to, resample, or stream them with tradedb bars.`, 'from');
        return reply.type('application/json; charset=utf-8').send(`{"symbol":${JSON.stringify(symbol)},"interval":${JSON.stringify(interval)},"bars":${rows[0]!.bars}}`);
      } finally {
        client.release();
      }
    });
  };
