import { SERVICE_NAMES, type DatabaseConfig, type RoleCredentials } from '../config/database-config.ts';
import { startEmbeddedServer } from './embedded-server.ts';

/** The server a tradedb process talks to, with every credential it needs filled in. */
export interface DatabaseServer {
  /** The configuration with the embedded server's port and generated passwords applied. */
  config: DatabaseConfig;
  embedded: boolean;
  /** Stops the embedded server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

/**
 * Opens the configured server: an external one is used as it is (tradedb never starts a
 * server when POSTGRES_HOST or DATABASE_URL is set); otherwise the embedded one is started or
 * joined, and roles without a configured password get the cluster's generated one.
 */
export async function openDatabaseServer(config: DatabaseConfig, log?: (line: string) => void): Promise<DatabaseServer> {
  if (config.server.mode === 'external') {
    return { config, embedded: false, stop: async () => undefined };
  }
  const roles = loginRoles(config);
  const server = await startEmbeddedServer({
    dataDir: config.embedded.dataDir,
    port: config.embedded.port,
    superuserPassword: config.server.admin.password,
    roles: roles.map((role) => role.user),
    log,
  });
  const withPassword = <T extends RoleCredentials>(role: T): T => ({ ...role, password: role.password ?? server.generatedPasswords[role.user] });
  return {
    embedded: true,
    stop: () => server.stop(),
    config: {
      ...config,
      server: { ...config.server, host: '127.0.0.1', port: server.port, admin: server.superuser, sslmode: 'disable' },
      trading: { ...config.trading, owner: withPassword(config.trading.owner) },
      services: Object.fromEntries(SERVICE_NAMES.map((name) => [name, withPassword(config.services[name])])) as DatabaseConfig['services'],
      readonly: withPassword(config.readonly),
      orchestration: withPassword(config.orchestration),
    },
  };
}

/** Every role tradedb logs in as, other than the superuser. */
export function loginRoles(config: DatabaseConfig): RoleCredentials[] {
  return [config.trading.owner, ...SERVICE_NAMES.map((name) => config.services[name]), config.readonly, config.orchestration];
}
