import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DatabaseConfig, RoleCredentials } from '../config/database-config.ts';
import { UserFacingError } from '../db/errors.ts';

const run = promisify(execFile);

export type ClientTool = 'pg_dump' | 'pg_restore';

/** A PostgreSQL client program found on this machine, with its version. */
export interface ClientToolInfo {
  tool: ClientTool;
  path: string;
  /** e.g. "15.20" */
  version: string;
  major: number;
}

/**
 * Finds `tool`: in `binDir` (TRADEDB_PG_BIN) if set, else on PATH, else in Debian's /usr/lib/postgresql/<major>/bin
 * (newest first). The embedded PostgreSQL ships no client tools, so a fresh machine needs the
 * package; the error says which.
 */
export async function findClientTool(tool: ClientTool, serverMajor: number, binDir?: string, searchDirs = defaultSearchDirs()): Promise<ClientToolInfo> {
  const candidates = [...(binDir ? [binDir] : []), ...searchDirs].map((dir) => path.join(dir, tool)).filter((candidate) => existsSync(candidate));
  const found: ClientToolInfo[] = [];
  // In order, stopping at the first that will do: each look costs a process start.
  for (const candidate of new Set(candidates)) {
    const info = await describe(tool, candidate);
    if (info && info.major >= serverMajor) return info;
    if (info) found.push(info);
  }
  const pkg = `postgresql-client-${serverMajor}`;
  if (found.length === 0) {
    throw new UserFacingError(
      `${tool} was not found (tradedb backup and restore run PostgreSQL's own ${tool}; the embedded server ships none). ` +
        `Install the PostgreSQL ${serverMajor} client tools — on Debian/Ubuntu: apt-get install ${pkg} — or set TRADEDB_PG_BIN to the directory holding ${tool}.`,
    );
  }
  throw new UserFacingError(
    `${found[0]!.path} is version ${found[0]!.version}, older than the server (PostgreSQL ${serverMajor}); an older ${tool} cannot read a newer server. ` +
      `Install the PostgreSQL ${serverMajor} client tools — on Debian/Ubuntu: apt-get install ${pkg} — or set TRADEDB_PG_BIN to their directory.`,
  );
}

/** PATH, then Debian's versioned directories, newest first. */
function defaultSearchDirs(): string[] {
  return [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...[18, 17, 16, 15].map((major) => `/usr/lib/postgresql/${major}/bin`)];
}

async function describe(tool: ClientTool, file: string): Promise<ClientToolInfo | undefined> {
  try {
    const { stdout } = await run(file, ['--version']);
    const match = /(\d+)(?:\.(\d+))?/.exec(stdout.replace(/^[^)]*\)/, ''));
    if (!match) return undefined;
    return { tool, path: file, version: match[2] ? `${match[1]}.${match[2]}` : match[1]!, major: Number(match[1]) };
  } catch {
    // Not runnable (wrong architecture, broken link): not a candidate.
    return undefined;
  }
}

/** Environment for a client tool connecting as `role` to `database` of the configured server. */
export function clientToolEnvironment(config: DatabaseConfig, role: RoleCredentials, database: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: config.server.host,
    PGPORT: String(config.server.port),
    PGUSER: role.user,
    PGPASSWORD: role.password ?? '',
    PGDATABASE: database,
    PGSSLMODE: config.server.sslmode,
    PGAPPNAME: 'tradedb:backup',
    PGCONNECT_TIMEOUT: '10',
  };
}
