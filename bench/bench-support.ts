import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { DatabaseConfig } from '../src/config/database-config.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { connectAdmin } from '../src/db/setup.ts';
import { clientToolEnv } from '../test/support/schema-dump.ts';

/** What every benchmark needs: its own databases, a superuser connection, a median. */

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/tradedb.js');

/** Configuration for databases of a benchmark's own, named tdbb_<label> (and _orch); nothing is created. */
export function benchConfig(env: Record<string, string>, label: string): DatabaseConfig {
  return loadConfig({ env: { ...env, TRADING_DB_NAME: `tdbb_${label}`, ORCHESTRATION_DB_NAME: `tdbb_${label}_orch` }, envFile: false }).database;
}

/** Runs `work` with a superuser connection to the trading database, closed after. */
export async function asAdmin<T>(config: DatabaseConfig, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = await connectAdmin(config, config.trading.database);
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Runs psql as the admin with one command; output discarded when `toNull`. */
export function psql(config: DatabaseConfig, database: string, command: string, toNull = false): Promise<string> {
  return runProcess('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', command], clientToolEnv(config), toNull);
}

/** Runs a program to its end; its stdout (unless `toNull`), or an error with its stderr. */
export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv, toNull: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    // An empty working directory: no developer's .env leaks in.
    const child = spawn(command, args, { env, cwd: os.tmpdir(), stdio: ['ignore', toNull ? 'ignore' : 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${path.basename(command)} ${args.slice(0, 3).join(' ')} exited ${code}: ${stderr}`))));
  });
}

/** Runs `work` while `tradedb ARGS` (a service process: relay, audit sealer, api) runs against the bench's databases. */
export async function withCliProcess<T>(args: string[], env: Record<string, string>, config: DatabaseConfig, readyLine: string, work: (pid: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, TRADING_DB_NAME: config.trading.database, ORCHESTRATION_DB_NAME: config.orchestration.database },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes(readyLine) && resolve());
      child.once('exit', (code) => reject(new Error(`tradedb ${args.join(' ')} exited (${code}) before it ran`)));
    });
    return await work(child.pid!);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}
