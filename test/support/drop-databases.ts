import type { DatabaseConfig } from '../../src/config/database-config.ts';
import { connectAdmin } from '../../src/db/setup.ts';

/** Drops the trading and orchestration databases of `config`, even with sessions still open. */
export async function dropDatabases(config: DatabaseConfig): Promise<void> {
  const admin = await connectAdmin(config, config.server.maintenanceDatabase);
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${config.trading.database}" WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS "${config.orchestration.database}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
