-- tradedb 01: roles and databases. Run as a superuser against the maintenance database:
--   psql -v ON_ERROR_STOP=1 -h HOST -U postgres -f sql/01_create_databases.sql
-- Idempotent: every object is created only when missing. CREATE DATABASE cannot run in a
-- transaction block, so this file is applied statement by statement (\gexec), never in one
-- transaction; the marker below tells `tradedb setup` so.
-- tradedb:no-transaction
\ir include/defaults.sql

-- The owner of every schema and table in the trading database. Services never connect as it.
SELECT format('CREATE ROLE %I LOGIN', :'trading_db_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'trading_db_user')
\gexec

-- One login role per service: it writes only its own schema (grants are in 02).
SELECT format('CREATE ROLE %I LOGIN', service_role)
  FROM unnest(ARRAY['data_ingestion_user', 'strategy_engine_user', 'execution_user',
                    'risk_management_user', 'analytics_user', 'notification_user',
                    'logging_user']) AS service_role
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = service_role)
\gexec

-- Reads every schema of the trading database, writes nothing (dashboards, reports, people).
SELECT 'CREATE ROLE trading_readonly LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trading_readonly')
\gexec

-- Owns the orchestration database: the worker's job queue and flow run history.
SELECT format('CREATE ROLE %I LOGIN', :'orchestration_db_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'orchestration_db_user')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0',
              :'trading_db_name', :'trading_db_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'trading_db_name')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0',
              :'orchestration_db_name', :'orchestration_db_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'orchestration_db_name')
\gexec

-- Only the roles that need a database may connect to it.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'trading_db_name')
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'trading_db_name', grantee)
  FROM unnest(ARRAY['data_ingestion_user', 'strategy_engine_user', 'execution_user',
                    'risk_management_user', 'analytics_user', 'notification_user',
                    'logging_user', 'trading_readonly']) AS grantee
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'orchestration_db_name')
\gexec
