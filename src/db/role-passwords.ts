import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RoleCredentials } from '../config/database-config.ts';
import type { Queryable } from './queryable.ts';

const ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier for `password`, in the form PostgreSQL stores. Sending the verifier
 * instead of the password keeps the plain text out of the server's logs and pg_stat_statements.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function scramKeys(password: string, salt: Buffer, iterations: number) {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    storedKey: createHash('sha256').update(clientKey).digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  };
}

/** True when the stored verifier was made from `password`. */
export function verifierMatches(verifier: string | null, password: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier ?? '');
  if (!match) return false;
  const { storedKey } = scramKeys(password, Buffer.from(match[2]!, 'base64'), Number(match[1]));
  const expected = Buffer.from(match[3]!, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}

/**
 * Gives each role with a configured password that password, unless it already has it (so a
 * second setup changes nothing). Needs a superuser connection (it reads pg_authid).
 * Returns the roles whose password was set.
 */
export async function applyRolePasswords(admin: Queryable, roles: RoleCredentials[]): Promise<string[]> {
  const changed: string[] = [];
  for (const role of roles) {
    if (role.password === undefined) continue;
    const { rows } = await admin.query<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role.user]);
    if (rows.length === 0 || verifierMatches(rows[0]!.rolpassword, role.password)) continue;
    const { rows: statement } = await admin.query<{ sql: string }>('SELECT format($$ALTER ROLE %I PASSWORD %L$$, $1::text, $2::text) AS sql', [
      role.user,
      scramVerifier(role.password),
    ]);
    await admin.query(statement[0]!.sql);
    changed.push(role.user);
  }
  return changed;
}
