import path from 'node:path';
import { runSetup, scriptVariables, SQL_DIR } from '../src/db/setup.ts';
import { benchConfig, median } from './bench-support.ts';
import { dropDatabases } from '../test/support/drop-databases.ts';
import { chooseServer } from '../test/support/choose-server.ts';
import { runPsql } from '../test/support/schema-dump.ts';

const ROUNDS = 5;
const PSQL_SCRIPTS = ['01_create_databases.sql', '02_create_core_tables.sql', '03_create_indexes.sql', '04_verify_setup.sql'];

/**
 * `tradedb setup` on an empty server (01-03 applied and recorded, then 04 verified) against
 * the reference: the same four files run by psql, the seed's Option 2. Fresh databases each
 * round; the two routes alternate so neither always runs on a warmer server.
 */
export async function runSetupBenchmark(): Promise<void> {
  const server = await chooseServer();
  const psqlTimes: number[] = [];
  const setupTimes: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const viaPsql = benchConfig(server.env, `${Date.now().toString(36)}_psql${round}`);
      const viaSetup = benchConfig(server.env, `${Date.now().toString(36)}_setup${round}`);
      const order = round % 2 === 0 ? ['psql', 'setup'] : ['setup', 'psql'];
      for (const route of order) {
        const started = performance.now();
        if (route === 'psql') {
          for (const script of PSQL_SCRIPTS) {
            const database = script.startsWith('01_') ? viaPsql.server.maintenanceDatabase : viaPsql.trading.database;
            const result = await runPsql(viaPsql, path.join(SQL_DIR, script), database, scriptVariables(viaPsql));
            if (result.code !== 0) throw new Error(`psql ${script} failed: ${result.output}`);
          }
          psqlTimes.push(performance.now() - started);
        } else {
          const report = await runSetup(viaSetup);
          if (!report.verify?.ok) throw new Error('setup did not verify');
          setupTimes.push(performance.now() - started);
        }
      }
      await dropDatabases(viaPsql);
      await dropDatabases(viaSetup);
    }
  } finally {
    await server.stop();
  }
  const psqlMedian = median(psqlTimes);
  const setupMedian = median(setupTimes);
  console.log(`server: ${server.kind} ${server.env.POSTGRES_HOST}:${server.env.POSTGRES_PORT}, ${ROUNDS} rounds, empty databases each round`);
  console.log(`reference  psql -f 01..04        median ${ms(psqlMedian)}  (runs ${psqlTimes.map(ms).join(', ')})`);
  console.log(`tradedb    setup (01..03 + 04)   median ${ms(setupMedian)}  (runs ${setupTimes.map(ms).join(', ')})`);
  console.log(`ratio      setup / psql = ${(setupMedian / psqlMedian).toFixed(2)}`);
}



const ms = (value: number) => `${value.toFixed(0)} ms`;
