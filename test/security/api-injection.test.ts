import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApiServer } from '../../src/api/api-server.ts';
import { ApiTokenService } from '../../src/services/shared/api-token-service.ts';
import { INJECTION_PAYLOAD, tableRowCounts } from '../support/injection-check.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';

/** Short enough to pass length limits, so that free-text parameters carry it to SQL as a value. */
const SHORT_PAYLOAD = "x' OR '1'='1";

/** A valid value per parameter name, so that each request differs from a good one in one parameter only. */
const VALID: Record<string, unknown> = {
  account: 'inj-a',
  symbol: 'INJ1',
  id: '1',
  name: 'nightly-maintenance',
  side: 'buy',
  type: 'limit',
  quantity: '1',
  limitPrice: '1',
  interval: '1d',
  'idempotency-key': 'inj-order',
};
/** Bodies of the routes that take one, valid apart from the parameter under test. */
const VALID_BODIES: Record<string, Record<string, unknown>> = {
  'POST /orders': { account: 'inj-a', symbol: 'INJ1', side: 'buy', type: 'limit', quantity: '1', limitPrice: '1' },
  'POST /orders/{id}/cancel': { account: 'inj-a' },
  'POST /flows/{name}/runs': { parameters: { monthsAhead: 1 } },
  'POST /backups': { schemas: ['analytics'] },
};
/** Body fields whose payload goes inside a container: a flow parameter, a list of schemas. */
const NESTED: Record<string, (payload: string) => unknown> = { parameters: (payload) => ({ monthsAhead: payload }), schemas: (payload) => [payload] };

interface OpenApiOperation {
  parameters?: Array<{ in: 'path' | 'query' | 'header'; name: string }>;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
}

let trading: TradingDatabase;
let api: FastifyInstance;
let admin: string;

beforeAll(async () => {
  trading = await openTradingDatabase('apiinject', { accounts: ['inj-a'], symbols: ['INJ1'] });
  admin = (await new ApiTokenService(trading.owner).create({ name: 'inj-admin', scope: 'admin' })).token;
  api = await buildApiServer({ pools: trading.pools, rateLimitPerMinute: 100_000 });
});
afterAll(async () => {
  await api?.close();
  await trading?.close();
});

it('every parameter of every API route, given SQL meta-characters, is refused or treated as data: a 4xx, never SQL, nothing written', async () => {
  const document = (await api.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, OpenApiOperation>> };
  const before = await tableRowCounts(trading.admin);
  const outcomes: string[] = [];
  const statuses: number[] = [];
  for (const [route, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const key = `${method.toUpperCase()} ${route}`;
      const parameters = operation.parameters ?? [];
      const bodyFields = Object.keys(operation.requestBody?.content['application/json']?.schema.properties ?? {});
      const targets = [...parameters.map((parameter) => ({ in: parameter.in, name: parameter.name })), ...bodyFields.map((name) => ({ in: 'body' as const, name }))];
      for (const target of targets) {
        for (const payload of [INJECTION_PAYLOAD, SHORT_PAYLOAD]) {
          const valueOf = (name: string, place: string) => (name === target.name && place === target.in ? payload : VALID[name]);
          let url = route.replace(/\{(\w+)\}/g, (_match, name: string) => encodeURIComponent(String(valueOf(name, 'path'))));
          const query = parameters.filter((parameter) => parameter.in === 'query' && (parameter.name === target.name || parameter.name in VALID));
          if (query.length > 0) url += `?${new URLSearchParams(query.map((parameter) => [parameter.name, String(valueOf(parameter.name, 'query'))]))}`;
          const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
          for (const parameter of parameters.filter((each) => each.in === 'header')) headers[parameter.name] = String(valueOf(parameter.name, 'header'));
          const body = bodyFields.length > 0 ? { ...VALID_BODIES[key], ...(target.in === 'body' ? { [target.name]: NESTED[target.name]?.(payload) ?? payload } : {}) } : undefined;
          const response = await api.inject({ method: method.toUpperCase() as 'GET' | 'POST', url, headers, ...(body ? { payload: body } : {}) });
          statuses.push(response.statusCode);
          const label = `${key} ${target.in}.${target.name}=${payload === SHORT_PAYLOAD ? 'short' : 'long'}`;
          if (process.env.SHOW) console.log(label, response.statusCode, response.body.slice(0, 120));
          if (response.statusCode < 400 || response.statusCode >= 500) outcomes.push(`${label}: ${response.statusCode} ${response.body.slice(0, 200)}`);
          else expect(response.json().error.message, label).not.toMatch(/syntax error|42601|unterminated|\n\s+at /i);
        }
      }
    }
  }
  expect(outcomes).toEqual([]);
  // The document drove enough requests, and the free-text parameter (an order's symbol) carried
  // the payload to SQL as a value: an unknown symbol (404). Every other parameter has a pattern.
  expect(statuses.length).toBeGreaterThanOrEqual(60);
  expect(statuses.filter((status) => status === 404).length).toBeGreaterThanOrEqual(1);
  expect(await tableRowCounts(trading.admin)).toEqual(before);
}, 120_000);
