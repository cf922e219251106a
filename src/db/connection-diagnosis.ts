import { UserFacingError, isServerError } from './errors.ts';

/** What a failed connection attempt was trying to reach, for the message. */
export interface ConnectionTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The variables a user changes to fix it, e.g. "POSTGRES_HOST/POSTGRES_PORT". */
  configuredBy: string;
}

/**
 * Turns a failed connection into one paragraph that says what was tried and what to do.
 * Errors that are not about connecting are returned unchanged.
 */
export function diagnoseConnectionError(error: unknown, target: ConnectionTarget): unknown {
  const where = `PostgreSQL at ${target.host}:${target.port} (database "${target.database}", user "${target.user}")`;
  const code = (error as { code?: string } | undefined)?.code;
  const advice = (() => {
    switch (code) {
      case 'ECONNREFUSED':
        return `nothing is listening there. Start the server, correct ${target.configuredBy}, or unset POSTGRES_HOST and DATABASE_URL to let tradedb run its embedded server.`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `the host name does not resolve. Correct ${target.configuredBy}.`;
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `the host does not answer (network or firewall). Check ${target.configuredBy} and that the server accepts TCP connections (listen_addresses, pg_hba.conf).`;
      case '28P01':
        return `the password was refused. Set the password of "${target.user}" in the environment or .env (see \`tradedb config --help\`).`;
      case '28000':
        return `the server refused this role (no such role, or no pg_hba.conf entry allows it). Run \`tradedb setup\` to create the roles, or add a pg_hba.conf line for them.`;
      case '3D000':
        return `the database does not exist. Run \`tradedb setup\` (or the psql scripts in sql/) to create it.`;
      case '57P03':
        return 'the server is starting up or shutting down. Try again in a few seconds.';
      case '53300':
        return 'the server has no free connection slots. Lower TRADEDB_POOL_MAX or raise max_connections.';
      default:
        return undefined;
    }
  })();
  if (advice === undefined) {
    if (error instanceof Error && /timeout expired|Connection terminated due to connection timeout/i.test(error.message) && !isServerError(error)) {
      return new UserFacingError(`Could not connect to ${where}: no answer before TRADEDB_POOL_CONNECTION_TIMEOUT_MS. Check that the server is up and reachable.`, { cause: error });
    }
    return error;
  }
  return new UserFacingError(`Could not connect to ${where}: ${advice}`, { cause: error });
}
