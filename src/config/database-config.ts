/**
 * The shape of the databases: which schemas exist, which service owns which schema, and the
 * login role each service connects as. The role names are fixed here and in sql/01; the
 * database names and the owner roles come from configuration.
 */

/** Service name → schema name, as in the seed's DatabaseConfig.SCHEMAS. */
export const SCHEMAS = {
  data_ingestion: 'data_ingestion',
  strategy_engine: 'strategy_engine',
  execution: 'execution',
  risk_management: 'risk_management',
  analytics: 'analytics',
  notification: 'notification',
  logging: 'logging',
  shared: 'shared',
} as const;

export type SchemaName = (typeof SCHEMAS)[keyof typeof SCHEMAS];

/** The services that connect with a role of their own; `shared` is read by all, owned by none. */
export const SERVICE_NAMES = [
  'data_ingestion',
  'strategy_engine',
  'execution',
  'risk_management',
  'analytics',
  'notification',
  'logging',
] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The read-only login role created by sql/01 (dashboards, reports, people). */
export const READONLY_ROLE = 'trading_readonly';

/** The login role a service's pool connects as (created by sql/01). */
export function serviceRole(service: ServiceName): string {
  return `${service}_user`;
}

export interface RoleCredentials {
  user: string;
  /** Unset means the server does not ask (trust/peer) or the embedded server's generated one. */
  password?: string | undefined;
}

export interface PoolSettings {
  /** Most connections the pool opens. */
  max: number;
  /** A connection idle this long is closed. */
  idleTimeoutMs: number;
  /** Waiting this long for a connection is an error. */
  connectionTimeoutMs: number;
  /** Any statement running longer is cancelled by the server. */
  statementTimeoutMs: number;
}

export interface ServiceDatabaseConfig extends RoleCredentials {
  service: ServiceName;
  schema: SchemaName;
  pool: PoolSettings;
}

/** Everything needed to reach and shape the two databases. */
export interface DatabaseConfig {
  /** Where the server is. `embedded` means tradedb starts one itself. */
  server: {
    mode: 'embedded' | 'external';
    host: string;
    port: number;
    /** Superuser used by setup (and only setup). */
    admin: RoleCredentials;
    /** Database the admin connects to before the trading database exists. */
    maintenanceDatabase: string;
    sslmode: 'disable' | 'prefer' | 'require' | 'verify-full';
  };
  embedded: {
    /** Holds the embedded server's data (pgdata/) and generated credentials. */
    dataDir: string;
    port: number;
  };
  trading: {
    database: string;
    /** Owns every schema and table; services never connect as it. */
    owner: RoleCredentials;
  };
  services: Record<ServiceName, ServiceDatabaseConfig>;
  readonly: RoleCredentials;
  /** Who the audit trail records as acting for this process (every connection's tradedb.actor). */
  actor: string;
  orchestration: RoleCredentials & {
    database: string;
    /** When set, the orchestration pool connects to this URL as given. */
    url?: string | undefined;
    pool: PoolSettings;
  };
}
