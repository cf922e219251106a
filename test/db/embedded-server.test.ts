import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnoseConnectionError } from '../../src/db/connection-diagnosis.ts';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/db/embedded-server.ts';
import { UserFacingError } from '../../src/db/errors.ts';
import { listenForNotifications } from '../../src/db/notification-listener.ts';
import { waitFor } from '../support/wait-for.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/tradedb.js');

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

let dataDir: string;
let port: number;
let server: EmbeddedServer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-embedded-'));
  // mkdtemp makes it 0700; as root, the server's OS user must be able to enter it.
  chmodSync(dataDir, 0o755);
  port = await freePort();
  server = await startEmbeddedServer({ dataDir, port, roles: ['trading_user'] });
});
afterAll(async () => {
  await server?.stop();
});

const clientFor = (password: string) => new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });

describe('the embedded PostgreSQL server', () => {
  it('runs PostgreSQL 15 on 127.0.0.1 with pg_stat_statements preloaded and a generated superuser password', async () => {
    const client = clientFor(server.superuser.password);
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT current_setting('server_version_num')::int / 10000 AS major, current_setting('shared_preload_libraries') AS preload, current_setting('listen_addresses') AS listen",
      );
      expect(rows[0]).toEqual({ major: 15, preload: 'pg_stat_statements', listen: '127.0.0.1' });
    } finally {
      await client.end();
    }
    expect(server.superuser.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.generatedPasswords.trading_user).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.startedHere).toBe(true);
  });

  it('lets a notification listener log in with its pool\'s password (pg-pool hides it from its options)', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'postgres', password: server.superuser.password, database: 'postgres' });
    let woken = 0;
    const listener = await listenForNotifications(pool, 'tradedb_test', () => (woken += 1));
    try {
      const afterConnect = woken;
      await pool.query("SELECT pg_notify('tradedb_test', '')");
      await waitFor(async () => woken > afterConnect);
    } finally {
      await listener.close();
      await pool.end();
    }
  });

  it('refuses a wrong password with advice instead of a stack trace', async () => {
    const client = clientFor('wrong');
    const error = await client.connect().catch((caught: unknown) => caught);
    await client.end().catch(() => undefined);
    const explained = diagnoseConnectionError(error, { host: '127.0.0.1', port, user: 'postgres', database: 'postgres', configuredBy: 'x' });
    expect(explained).toBeInstanceOf(UserFacingError);
    expect((explained as Error).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*"postgres".*password was refused`));
  });

  it('is joined, not started twice, by a second process on the same data directory', async () => {
    const second = await startEmbeddedServer({ dataDir, port, roles: ['trading_user'] });
    expect(second.startedHere).toBe(false);
    expect(second.superuser.password).toBe(server.superuser.password);
    await second.stop(); // must leave the first one's server running
    const client = clientFor(server.superuser.password);
    await client.connect();
    await client.end();
  });

  it('says which port to change when its port is taken by another program', async () => {
    const blocker = net.createServer();
    const takenPort = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const otherDir = mkdtempSync(path.join(os.tmpdir(), 'tradedb-embedded-'));
      chmodSync(otherDir, 0o755);
      await expect(startEmbeddedServer({ dataDir: otherDir, port: takenPort, roles: [] })).rejects.toThrow(
        new RegExp(`Port ${takenPort} on 127\\.0\\.0\\.1 is already in use.*TRADEDB_EMBEDDED_PORT`),
      );
    } finally {
      blocker.close();
    }
  });

  it('says which directory cannot be written and which variable to set', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'tradedb-embedded-')), 'not-a-directory');
    writeFileSync(file, '');
    await expect(startEmbeddedServer({ dataDir: path.join(file, 'data'), port: await freePort(), roles: [] })).rejects.toThrow(
      /data directory .*not-a-directory\/data cannot be written \(ENOTDIR\).*TRADEDB_DATA_DIR/,
    );
  });
});

/** As root, the suite can also prove the normal-user path, if such a user can reach the code. */
const rootWithoutNormalUserAccess = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', BIN]).status !== 0;

describe('tradedb start --once on the embedded server', () => {
  it.skipIf(rootWithoutNormalUserAccess)('works for a normal (non-root) user, who owns the data directory', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'tradedb-user-'));
    chmodSync(home, 0o777);
    const asNormalUser = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--'] : [];
    const [command, ...args] = [...asNormalUser, process.execPath, BIN, 'start', '--once'];
    const result = spawnSync(command!, args, {
      cwd: home,
      env: { PATH: process.env.PATH ?? '', HOME: home, TRADEDB_EMBEDDED_PORT: String(await freePort()) },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Server\s+embedded 127\.0\.0\.1:\d+, PostgreSQL 15/);
    expect(result.stdout).toMatch(/All \d+ checks passed/);
    expect(statSync(path.join(home, '.tradedb', 'pgdata')).uid).toBe(process.getuid?.() === 0 ? Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout) : process.getuid?.());
  });
});
