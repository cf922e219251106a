import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { UserFacingError } from '../../db/errors.ts';
import type { Queryable } from '../../db/queryable.ts';

export const TOKEN_SCOPES = ['read', 'trade', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface ApiTokenRow {
  id: number;
  name: string;
  scope: TokenScope;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Every token starts so, which lets secret scanners and people tell one when they see it. */
const TOKEN_PREFIX = 'tdb_';

/** The stored form of a token: its SHA-256 (32 random bytes leave nothing to guess, so no slow hash). */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

const newToken = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits and _ . - only, at most 64, starting with a letter or digit'),
  scope: z.enum(TOKEN_SCOPES, { message: 'must be read, trade or admin' }),
  expiresInDays: z.number().int().positive().max(3650).optional(),
});

const COLUMNS = `id::int, name, scope, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

/**
 * Bearer tokens of the HTTP API, in shared.api_tokens (owner only, like accounts): created with a
 * scope, shown once, stored as a hash, revoked by name. Takes a pool of the owner role; the API
 * checks them with authenticateApiToken.
 */
export class ApiTokenService {
  constructor(private readonly ownerPool: pg.Pool) {}

  /** A new token: the row, and the token itself, which is not stored and cannot be shown again. */
  async create(input: { name: string; scope: string; expiresInDays?: number | undefined }): Promise<{ row: ApiTokenRow; token: string }> {
    const parsed = newToken.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UserFacingError(`Invalid token: ${issue.path.join('.')}: ${issue.message}`);
    }
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.ownerPool.query<ApiTokenRow>(
      `INSERT INTO shared.api_tokens (name, scope, token_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(days => $4))
       ON CONFLICT (name) DO NOTHING
       RETURNING ${COLUMNS}`,
      [parsed.data.name, parsed.data.scope, tokenHash(token), parsed.data.expiresInDays ?? null],
    );
    if (!rows[0]) throw new UserFacingError(`A token named ${parsed.data.name} already exists (revoke it, or choose another name).`);
    return { row: rows[0], token };
  }

  async list(): Promise<ApiTokenRow[]> {
    return (await this.ownerPool.query<ApiTokenRow>(`SELECT ${COLUMNS} FROM shared.api_tokens ORDER BY name`)).rows;
  }

  /** Revokes a token at once; a token revoked before stays as it was. */
  async revoke(name: string): Promise<ApiTokenRow> {
    const { rows } = await this.ownerPool.query<ApiTokenRow>(
      `UPDATE shared.api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE name = $1 RETURNING ${COLUMNS}`,
      [name],
    );
    if (!rows[0]) throw new UserFacingError(`No token named ${name}.`);
    return rows[0];
  }
}

/**
 * The live token a bearer presents (not revoked, not expired), or undefined, through
 * shared.authenticate_api_token (migration 0012): `db` is the logging service's pool, so the
 * API needs no owner connection. The function notes when a token was last used, at most once a
 * minute (a write per request would cost every request a row version).
 */
export async function authenticateApiToken(db: Queryable, token: string): Promise<ApiTokenRow | undefined> {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const { rows } = await db.query<ApiTokenRow>(
    `SELECT ${COLUMNS} FROM shared.authenticate_api_token($1)`,
    [tokenHash(token)],
  );
  return rows[0];
}
