import { loadConfig, type Config } from '../config/load-config.ts';
import { openDatabaseServer, type DatabaseServer } from '../db/database-server.ts';

/** What a command gets: the validated configuration and the opened server. */
export interface DatabaseSession {
  config: Config;
  server: DatabaseServer;
}

/**
 * Loads the configuration, opens the server (starting the embedded one if that is the
 * default), runs `work`, and always stops a server this process started.
 */
export async function withDatabaseServer<T>(work: (session: DatabaseSession) => Promise<T>, log: (line: string) => void = (line) => console.error(line)): Promise<T> {
  const config = loadConfig();
  const server = await openDatabaseServer(config.database, log);
  try {
    return await work({ config, server });
  } finally {
    await server.stop();
  }
}
