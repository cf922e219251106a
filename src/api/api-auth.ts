import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/queryable.ts';
import { authenticateApiToken, tokenHash, type ApiTokenRow, type TokenScope } from '../services/shared/api-token-service.ts';
import { ApiError } from './api-error.ts';

/** read < trade < admin: a token may do what its scope and every lower one allow. */
const SCOPE_RANK: Record<TokenScope, number> = { read: 0, trade: 1, admin: 2 };

declare module 'fastify' {
  interface FastifyRequest {
    /** The token the request came with (every route but health and the docs needs one). */
    token?: ApiTokenRow;
  }
  interface FastifyContextConfig {
    /** The least scope a route needs; routes without one are public (health, docs). */
    scope?: TokenScope;
  }
}

/**
 * The API's token check: authenticateApiToken, remembered for a few seconds per token
 * (by its hash), so that a busy client does not cost a database round trip per request.
 */
export class TokenCheck {
  /** Live tokens only, by hash: an unknown one is asked about each time. */
  private readonly remembered = new Map<string, { token: ApiTokenRow; until: number }>();

  /** `db`: the logging service's pool; `rememberMs`: how long a checked token is believed without asking again (a revocation takes this long at most). */
  constructor(
    private readonly db: Queryable,
    private readonly rememberMs: number,
  ) {}

  async authenticate(bearer: string): Promise<ApiTokenRow | undefined> {
    const key = tokenHash(bearer).toString('hex');
    const now = Date.now();
    const known = this.remembered.get(key);
    if (known && known.until > now) return known.token;
    const token = await authenticateApiToken(this.db, bearer);
    // Unknown tokens are not remembered: a flood of made-up ones must not fill the memory.
    if (token) this.remembered.set(key, { token, until: now + this.rememberMs });
    else this.remembered.delete(key);
    return token;
  }
}

/** The token of an `Authorization: Bearer <token>` header, if the request has one. */
export function bearerOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
}

/**
 * Checks the bearer token of a request against the route's scope: 401 with no token or one that
 * is unknown, revoked or expired; 403 when its scope is too low.
 */
export async function authorize(request: FastifyRequest, tokens: TokenCheck): Promise<void> {
  const needed = request.routeOptions.config.scope;
  if (!needed) return;
  const bearer = bearerOf(request);
  if (!bearer) throw new ApiError(401, 'unauthorized', 'Send a token: "Authorization: Bearer <token>" (tradedb tokens create NAME --scope read|trade|admin).');
  const token = await tokens.authenticate(bearer);
  if (!token) throw new ApiError(401, 'unauthorized', 'The token is unknown, revoked or expired.');
  if (SCOPE_RANK[token.scope] < SCOPE_RANK[needed]) throw new ApiError(403, 'forbidden', `This needs a ${needed} token; ${token.name} is ${token.scope}.`);
  request.token = token;
}
