import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DatabaseConfig } from '../../src/config/database-config.ts';

const run = promisify(execFile);

/** Environment for PostgreSQL's client tools (psql, pg_dump) as the configured superuser. */
export function clientToolEnv(config: DatabaseConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: config.server.host,
    PGPORT: String(config.server.port),
    PGUSER: config.server.admin.user,
    PGPASSWORD: config.server.admin.password ?? '',
  };
}

/** `pg_dump --schema-only` of a database, its own name and the per-run \\restrict key blanked out. */
export async function schemaDump(config: DatabaseConfig, database: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['--schema-only', database], {
    env: clientToolEnv(config),
    maxBuffer: 64 * 1024 * 1024,
  });
  // pg_dump 15.14+ fences the dump with \restrict KEY lines, a fresh random KEY per run.
  return stdout.replaceAll(database, '<database>').replace(/^\\(un)?restrict \S+$/gm, '\\$1restrict <key>');
}

/** Runs a script with the real psql, exactly as the README tells psql users to. */
export async function runPsql(config: DatabaseConfig, file: string, database: string, variables: Record<string, string>): Promise<{ code: number; output: string }> {
  const args = ['-v', 'ON_ERROR_STOP=1', '-X', '-q', '-d', database, '-f', file, ...Object.entries(variables).flatMap(([name, value]) => ['-v', `${name}=${value}`])];
  try {
    const { stdout, stderr } = await run('psql', args, { env: clientToolEnv(config), maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? -1, output: (failure.stdout ?? '') + (failure.stderr ?? '') };
  }
}
