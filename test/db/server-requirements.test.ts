import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { UserFacingError } from '../../src/db/errors.ts';
import type { Queryable } from '../../src/db/queryable.ts';
import { assertUsableServer } from '../../src/db/setup.ts';

const config = loadConfig({ env: { POSTGRES_HOST: 'old-db.example', POSTGRES_PORT: '5433', POSTGRES_USER: 'admin' }, envFile: false }).database;

/** A server that answers setup's first question as an older or unprivileged one would. */
function serverAnswering(row: { version: string; version_num: string; superuser: boolean }): Queryable {
  return { query: async () => ({ rows: [row], rowCount: 1 }) as unknown as pg.QueryResult } as Queryable;
}

describe('setup refuses a server it cannot work with', () => {
  it('names a server older than 15, where it is, and what to do', async () => {
    const failure = await assertUsableServer(serverAnswering({ version: '14.11', version_num: '140011', superuser: true }), config).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UserFacingError);
    expect((failure as Error).message).toBe(
      'PostgreSQL 14.11 at old-db.example:5433 is too old: tradedb needs PostgreSQL 15 or newer. Upgrade the server, or unset POSTGRES_HOST to use the embedded PostgreSQL 15.',
    );
  });

  it('names the role that is not a superuser', async () => {
    await expect(assertUsableServer(serverAnswering({ version: '15.6', version_num: '150006', superuser: false }), config)).rejects.toThrow(
      /connects as "admin", which is not a superuser.*POSTGRES_USER/,
    );
  });

  it('accepts PostgreSQL 15 and newer', async () => {
    await expect(assertUsableServer(serverAnswering({ version: '17.2', version_num: '170002', superuser: true }), config)).resolves.toBe('17.2');
  });
});
