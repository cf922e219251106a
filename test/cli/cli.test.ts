import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.ts';
import { cloneTemplateDatabases, type TestDatabases } from '../support/test-database.ts';

let db: TestDatabases;
beforeAll(async () => {
  db = await cloneTemplateDatabases('cli');
});
afterAll(async () => {
  await db?.drop();
});

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

describe('tradedb CLI', () => {
  it('--help lists the commands and every environment variable', async () => {
    const { code, stdout } = await runCli(['--help'], {});
    expect(code).toBe(0);
    for (const command of ['start', 'setup', 'verify', 'status', 'config']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    for (const variable of ['POSTGRES_HOST', 'TRADING_DB_NAME', 'ORCHESTRATION_DATABASE_URL', 'REDIS_URL', 'TRADEDB_DATA_DIR']) expect(stdout).toContain(variable);
  });

  it('config prints the effective configuration with every password masked', async () => {
    const { code, stdout } = await runCli(['config'], { POSTGRES_HOST: 'db.example', POSTGRES_PASSWORD: 'hunter2', EXECUTION_DB_PASSWORD: 'exec-secret', ORCHESTRATION_DATABASE_URL: 'postgres://flows:flowpass@db.example/flows', TRADEDB_ENCRYPTION_KEY: 'the-encryption-key-123', TRADEDB_NEW_ENCRYPTION_KEY: 'the-next-key-456789' });
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/hunter2|exec-secret|flowpass|the-encryption-key|the-next-key/);
    const config = JSON.parse(stdout);
    expect(config.database.server).toMatchObject({ mode: 'external', host: 'db.example', admin: { password: '********' } });
    expect(config.database.orchestration.url).toBe('postgres://flows:********@db.example/flows');
  });

  it('a bad variable is named with what is expected, exit 1, no stack trace', async () => {
    const { code, stderr } = await runCli(['status'], { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: 'fivefourthreetwo' });
    expect(code).toBe(1);
    expect(stderr).toContain('POSTGRES_PORT="fivefourthreetwo": expected a port number between 1 and 65535');
    noStackTrace(stderr);
  });

  it('an unreachable server is one paragraph naming host and port and what to do', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const { code, stderr } = await runCli(['setup'], { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: String(closedPort) });
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`Could not connect to PostgreSQL at 127\\.0\\.0\\.1:${closedPort}.*nothing is listening there.*POSTGRES_HOST`));
    noStackTrace(stderr);
  });

  it('a missing database is named with the command that creates it', async () => {
    const { code, stdout } = await runCli(['status'], { ...db.env, TRADING_DB_NAME: 'tdbt_no_such_database' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/tdbt_no_such_database.*does not exist.*tradedb setup/);
  });

  it('--verbose adds the stack trace', async () => {
    const { stderr } = await runCli(['--verbose', 'setup'], { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: '1' });
    expect(stderr).toMatch(/^\s+at .+/m);
  });

  it('setup --dry-run lists every script as applied on a set-up database', async () => {
    const { code, stdout } = await runCli(['setup', '--dry-run'], db.env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/applied\s+sql\/01_create_databases\.sql/);
    expect(stdout).toMatch(/applied\s+sql\/03_create_indexes\.sql/);
  });

  it('status shows both databases, all eight schemas and every pool healthy', async () => {
    const { code, stdout } = await runCli(['status'], db.env);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/Server\s+external 127\.0\.0\.1:\d+, PostgreSQL 1[5-9]/);
    for (const schema of ['data_ingestion', 'strategy_engine', 'execution', 'risk_management', 'analytics', 'notification', 'logging', 'shared']) {
      expect(stdout).toMatch(new RegExp(`^  ${schema}\\s+\\d+ tables`, 'm'));
    }
    expect(stdout.match(/^ {2}ok {3}/gm)).toHaveLength(8);
    expect(stdout).toMatch(/^Notifications last 24 h: \d+ sent, \d+ failed attempts, \d+ suppressed; \d+ pending$/m);
    expect(stdout).toMatch(/^Logs {10}last hour: \d+ errors, \d+ warnings/m);
  });

  it('logs: reads the centralized log through the logging role; a bad --since or --level is named', async () => {
    const { code, stdout } = await runCli(['logs', '--json', '--since', '1h'], db.env);
    expect(code, stdout).toBe(0);
    for (const line of stdout.split('\n').filter(Boolean)) expect(JSON.parse(line)).toHaveProperty('service');
    const since = await runCli(['logs', '--since', 'yesterday'], db.env);
    expect(since.code).not.toBe(0);
    expect(since.stderr).toMatch(/option '--since <when>' argument 'yesterday' is invalid\. expected a duration before now \(90s, 15m, 2h, 7d\)/);
    const level = await runCli(['logs', '--level', 'loud'], db.env);
    expect(level.stderr).toMatch(/expected one of debug, info, warn, error, fatal/);
  });

  it('notifications add without TRADEDB_ENCRYPTION_KEY says so and stores nothing; list never shows a target', async () => {
    const refused = await runCli(['notifications', 'add', 'hook', '--channel', 'webhook', '--url', 'https://hooks.example.com/T0K3N'], db.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/TRADEDB_ENCRYPTION_KEY is not set: it is needed to store the webhook target of hook/);
    const added = await runCli(['notifications', 'add', 'hook', '--channel', 'webhook', '--url', 'https://hooks.example.com/T0K3N', '--events', 'risk.breached'], { ...db.env, TRADEDB_ENCRYPTION_KEY: 'a-key-for-the-cli-test' });
    expect(added.code, added.stderr).toBe(0);
    const { stdout } = await runCli(['notifications', 'list'], db.env);
    expect(stdout).toMatch(/hook\s+webhook\s+\(encrypted\)\s+risk\.breached/);
    expect(stdout).not.toContain('T0K3N');
  });

  it('start --once sets up, reports status and exits 0', async () => {
    const { code, stdout } = await runCli(['start', '--once'], db.env);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/up to date\s+sql\/02_create_core_tables\.sql/);
    expect(stdout).toMatch(/All \d+ checks passed/);
    expect(stdout).toMatch(/ok {3}execution\s/);
  });
});
