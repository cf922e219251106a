-- tradedb 04: verify that 01-03 and sql/migrations left everything in place. Changes nothing but temp tables.
-- Run as a superuser in the trading database, after 03 and the migrations:
--   psql -v ON_ERROR_STOP=1 -h HOST -U postgres -d trading_system -f sql/04_verify_setup.sql
-- Prints one line per kind of check, then fails (psql exit status 3) naming every missing
-- object, or ends with a notice that all checks passed.
-- The expected objects are written out here on purpose: an expectation read back from the
-- catalog could never fail. Keep these lists in step with 02, 03 and the migrations.
\ir include/defaults.sql

CREATE TEMP TABLE IF NOT EXISTS setup_check (kind text, object_name text, present boolean);
TRUNCATE setup_check;

-- ---------------------------------------------------------------------------------------------
-- What should exist
-- ---------------------------------------------------------------------------------------------

CREATE TEMP TABLE IF NOT EXISTS setup_expected_role (role_name text, is_service boolean);
TRUNCATE setup_expected_role;
INSERT INTO setup_expected_role (role_name, is_service) VALUES
    (:'trading_db_user',        false),
    ('data_ingestion_user',     true),
    ('strategy_engine_user',    true),
    ('execution_user',          true),
    ('risk_management_user',    true),
    ('analytics_user',          true),
    ('notification_user',       true),
    ('logging_user',            true),
    ('trading_readonly',        false),
    (:'orchestration_db_user',  false);

CREATE TEMP TABLE IF NOT EXISTS setup_expected_schema (schema_name text);
TRUNCATE setup_expected_schema;
INSERT INTO setup_expected_schema (schema_name) VALUES
    ('data_ingestion'), ('strategy_engine'), ('execution'), ('risk_management'),
    ('analytics'), ('notification'), ('logging'), ('shared');

-- Every table of 02 (and the audit trail's of 0010 and 0019, the API tokens of 0011) with its primary key (the distribution column first where it has one),
-- its identity column and whether it is partitioned.
CREATE TEMP TABLE IF NOT EXISTS setup_expected_table (
    schema_name text, table_name text, primary_key text, identity_column text, partitioned boolean);
TRUNCATE setup_expected_table;
INSERT INTO setup_expected_table (schema_name, table_name, primary_key, identity_column, partitioned) VALUES
    ('shared',          'schema_migrations',     'script',                            NULL, false),
    ('shared',          'system_config',         'key',                               NULL, false),
    ('shared',          'accounts',              'account_id',                        NULL, false),
    ('shared',          'audit_log',             'id, occurred_at',                   'id', true),
    ('shared',          'audit_seals',           'table_schema, table_name, chain_seq', NULL, false),
    ('shared',          'audit_seal_state',      'singleton',                         NULL, false),
    ('shared',          'audit_seal_blocks',     'table_schema, table_name, first_seq', NULL, false),
    ('shared',          'api_tokens',            'id',                                'id', false),
    ('data_ingestion',  'symbols',               'symbol',                            NULL, false),
    ('data_ingestion',  'delisted_symbols',      'symbol, delisted_on',               NULL, false),
    ('data_ingestion',  'ingestion_runs',        'id',                                'id', false),
    ('data_ingestion',  'symbol_data_status',    'symbol, source, interval',          NULL, false),
    ('data_ingestion',  'market_data',           'symbol, interval, ts, source',      NULL, true),
    ('data_ingestion',  'company_info',          'symbol',                            NULL, false),
    ('data_ingestion',  'key_statistics',        'symbol, as_of',                     NULL, false),
    ('data_ingestion',  'institutional_holders', 'symbol, report_date, holder',       NULL, false),
    ('data_ingestion',  'data_quality_logs',     'id',                                'id', false),
    ('strategy_engine', 'strategies',            'id',                                'id', false),
    ('strategy_engine', 'strategy_signals',      'id',                                'id', false),
    ('strategy_engine', 'strategy_performance',  'strategy_id, as_of',                NULL, false),
    ('execution',       'orders',                'account_id, id',                    'id', false),
    ('execution',       'order_events',          'account_id, id',                    'id', false),
    ('execution',       'trades',                'account_id, id',                    'id', false),
    ('execution',       'positions',             'account_id, symbol',                NULL, false),
    ('execution',       'execution_logs',        'account_id, id',                    'id', false),
    ('execution',       'order_status_transitions', 'from_status, to_status',             NULL, false),
    ('risk_management', 'risk_limits',           'account_id, id',                    'id', false),
    ('risk_management', 'position_limits',       'account_id, symbol',                NULL, false),
    ('risk_management', 'risk_events',           'account_id, id',                    'id', false),
    ('analytics',       'portfolio_summary',     'account_id, as_of',                 NULL, false),
    ('analytics',       'performance_metrics',   'account_id, id',                    'id', false),
    ('notification',    'notification_configs',  'id',                                'id', false),
    ('notification',    'notification_logs',     'id',                                'id', false),
    ('logging',         'system_logs',           'id, logged_at',                     'id', true),
    ('logging',         'performance_logs',      'id, logged_at',                     'id', true);

-- The privilege matrix of 02: 'write' = SELECT, INSERT, UPDATE, DELETE (and the schema's
-- sequences and functions), 'read' = SELECT. A role absent for a schema gets nothing there.
CREATE TEMP TABLE IF NOT EXISTS setup_expected_access (grantee text, schema_name text, access text);
TRUNCATE setup_expected_access;
INSERT INTO setup_expected_access (grantee, schema_name, access) VALUES
    ('data_ingestion_user',  'data_ingestion',  'write'),
    ('data_ingestion_user',  'shared',          'read'),
    ('strategy_engine_user', 'strategy_engine', 'write'),
    ('strategy_engine_user', 'data_ingestion',  'read'),
    ('strategy_engine_user', 'shared',          'read'),
    ('execution_user',       'execution',       'write'),
    ('execution_user',       'data_ingestion',  'read'),
    ('execution_user',       'strategy_engine', 'read'),
    ('execution_user',       'risk_management', 'read'),
    ('execution_user',       'shared',          'read'),
    ('risk_management_user', 'risk_management', 'write'),
    ('risk_management_user', 'data_ingestion',  'read'),
    ('risk_management_user', 'execution',       'read'),
    ('risk_management_user', 'strategy_engine', 'read'),
    ('risk_management_user', 'shared',          'read'),
    ('analytics_user',       'analytics',       'write'),
    ('analytics_user',       'data_ingestion',  'read'),
    ('analytics_user',       'execution',       'read'),
    ('analytics_user',       'strategy_engine', 'read'),
    ('analytics_user',       'risk_management', 'read'),
    ('analytics_user',       'shared',          'read'),
    ('notification_user',    'notification',    'write'),
    ('notification_user',    'logging',         'read'),
    ('notification_user',    'shared',          'read'),
    ('logging_user',         'logging',         'write'),
    ('logging_user',         'shared',          'read'),
    ('trading_readonly',     'data_ingestion',  'read'),
    ('trading_readonly',     'strategy_engine', 'read'),
    ('trading_readonly',     'execution',       'read'),
    ('trading_readonly',     'risk_management', 'read'),
    ('trading_readonly',     'analytics',       'read'),
    ('trading_readonly',     'notification',    'read'),
    ('trading_readonly',     'logging',         'read'),
    ('trading_readonly',     'shared',          'read');

-- ---------------------------------------------------------------------------------------------
-- Cluster level: databases, roles, who may connect
-- ---------------------------------------------------------------------------------------------

INSERT INTO setup_check (kind, object_name, present)
SELECT 'database', format('%s owned by %s', e.datname, e.owner),
       EXISTS (SELECT FROM pg_catalog.pg_database d
                WHERE d.datname = e.datname AND pg_catalog.pg_get_userbyid(d.datdba) = e.owner)
  FROM (VALUES (:'trading_db_name', :'trading_db_user'),
               (:'orchestration_db_name', :'orchestration_db_user')) AS e (datname, owner);

INSERT INTO setup_check (kind, object_name, present)
SELECT 'role', e.role_name, EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = e.role_name)
  FROM setup_expected_role e;

-- A service role that is a superuser or a member of the owner role would bypass every grant.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no superuser, CREATEROLE, CREATEDB, BYPASSRLS or owner membership for %s', e.role_name),
       coalesce((SELECT NOT (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls)
                        AND NOT pg_has_role(r.oid, o.oid, 'MEMBER')
                   FROM pg_catalog.pg_roles r, pg_catalog.pg_roles o
                  WHERE r.rolname = e.role_name AND o.rolname = :'trading_db_user'), true)
  FROM setup_expected_role e
 WHERE e.is_service OR e.role_name = 'trading_readonly';

INSERT INTO setup_check (kind, object_name, present)
SELECT 'grant', format('%s CONNECT on database %s', e.role_name, :'trading_db_name'),
       coalesce(has_database_privilege(
           (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = e.role_name),
           (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = :'trading_db_name'),
           'CONNECT'), false)
  FROM setup_expected_role e
 WHERE e.is_service OR e.role_name = 'trading_readonly';

INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no PUBLIC CONNECT on database %s', e.datname),
       coalesce(NOT has_database_privilege(
           'public', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = e.datname), 'CONNECT'), true)
  FROM (VALUES (:'trading_db_name'), (:'orchestration_db_name')) AS e (datname);

-- ---------------------------------------------------------------------------------------------
-- This database: extensions, schemas, functions, tables, keys, partitions, triggers, indexes
-- ---------------------------------------------------------------------------------------------

INSERT INTO setup_check (kind, object_name, present)
SELECT 'extension', 'pgcrypto in shared',
       EXISTS (SELECT FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
                WHERE x.extname = 'pgcrypto' AND n.nspname = 'shared')
UNION ALL
-- migration 0020: the audit trigger's diff of old and new rows
SELECT 'extension', 'hstore in shared',
       EXISTS (SELECT FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
                WHERE x.extname = 'hstore' AND n.nspname = 'shared')
UNION ALL
SELECT 'extension', 'pg_stat_statements in shared (where available)',
       EXISTS (SELECT FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
                WHERE x.extname = 'pg_stat_statements' AND n.nspname = 'shared')
       OR NOT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'pg_stat_statements');

INSERT INTO setup_check (kind, object_name, present)
SELECT 'schema', format('%s owned by %s', e.schema_name, :'trading_db_user'),
       EXISTS (SELECT FROM pg_catalog.pg_namespace n
                WHERE n.nspname = e.schema_name AND pg_catalog.pg_get_userbyid(n.nspowner) = :'trading_db_user')
  FROM setup_expected_schema e;

INSERT INTO setup_check (kind, object_name, present)
SELECT 'function', format('%s owned by %s', e.signature, :'trading_db_user'),
       coalesce((SELECT pg_catalog.pg_get_userbyid(p.proowner) = :'trading_db_user'
                   FROM pg_catalog.pg_proc p WHERE p.oid = to_regprocedure(e.signature)), false)
  FROM (VALUES ('shared.create_monthly_partitions(regclass,date,integer)'),
               ('shared.touch_updated_at()'),
               ('shared.forbid_update_delete()'),
               ('data_ingestion.ensure_market_data_partitions(date[])'),
               ('risk_management.record_risk_event(text,bigint,text,text,text,jsonb,bigint)'),
               -- migration 0001: the order flow
               ('shared.act_for_account(text)'),
               ('data_ingestion.latest_close(text,timestamptz)'),
               ('execution.position_after_fill(numeric,numeric,numeric,numeric,numeric)'),
               ('execution.lock_position(text,text)'),
               ('execution.apply_fill_to_position(text,text,text,numeric,numeric,numeric)'),
               ('execution.require_tradable(text,text)'),
               ('execution.order_breaches(text,text,text,numeric,numeric,numeric,bigint,boolean)'),
               ('execution.reject_order(execution.orders,jsonb)'),
               ('execution.open_order_remaining(text,text,text)'),
               ('risk_management.check_order(text,text,text,numeric,numeric,numeric,bigint,boolean)'),
               ('execution.place_order(text,text,text,text,text,text,numeric,numeric,numeric,bigint,bigint)'),
               ('execution.change_order_status(text,bigint,text,text,integer,text)'),
               ('execution.record_fill(text,bigint,text,numeric,numeric,numeric,timestamptz)'),
               ('execution.execute_order(text,text,text,text,text,text,numeric,numeric,numeric,bigint,bigint,text,numeric,numeric,numeric,timestamptz)'),
               -- migration 0002
               ('strategy_engine.record_daily_performance(date)'),
               -- migration 0006
               ('shared.create_daily_partitions(regclass,date,integer)'),
               -- migration 0008
               ('shared.active_account_ids()'),
               -- migration 0021
               ('shared.uuid_v7()'),
               -- migration 0022
               ('shared.audit_row_ref(text,text,jsonb)')) AS e (signature);

INSERT INTO setup_check (kind, object_name, present)
SELECT 'table', e.schema_name || '.' || e.table_name,
       EXISTS (SELECT FROM pg_catalog.pg_class c
                WHERE c.oid = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                  AND c.relkind IN ('r', 'p'))
  FROM setup_expected_table e;

INSERT INTO setup_check (kind, object_name, present)
SELECT 'owner', format('%s.%s owned by %s', e.schema_name, e.table_name, :'trading_db_user'),
       EXISTS (SELECT FROM pg_catalog.pg_class c
                WHERE c.oid = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                  AND pg_catalog.pg_get_userbyid(c.relowner) = :'trading_db_user')
  FROM setup_expected_table e;

INSERT INTO setup_check (kind, object_name, present)
SELECT 'primary key', format('%s.%s (%s)', e.schema_name, e.table_name, e.primary_key),
       coalesce((SELECT string_agg(a.attname, ', ' ORDER BY k.ord)
                   FROM pg_catalog.pg_constraint con
                  CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k (attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                  WHERE con.conrelid = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                    AND con.contype = 'p') = e.primary_key, false)
  FROM setup_expected_table e;

-- Natural keys the services rely on for idempotency.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'unique constraint', format('%s.%s', e.table_name, e.constraint_name),
       EXISTS (SELECT FROM pg_catalog.pg_constraint con
                WHERE con.conrelid = to_regclass(e.table_name)
                  AND con.conname = e.constraint_name AND con.contype = 'u')
  FROM (VALUES ('strategy_engine.strategies',        'strategies_name_key'),
               ('execution.orders',                  'orders_client_order_id_key'),
               ('execution.orders',                  'orders_broker_order_id_key'),
               ('execution.trades',                  'trades_broker_fill_id_key'),
               ('risk_management.risk_limits',       'risk_limits_target_key'),
               ('analytics.performance_metrics',     'performance_metrics_period_key'),
               ('notification.notification_configs', 'notification_configs_name_key'),
               ('notification.notification_logs',    'notification_logs_attempt_key')
       ) AS e (table_name, constraint_name);

INSERT INTO setup_check (kind, object_name, present)
SELECT 'partitioned', e.schema_name || '.' || e.table_name,
       EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p
                WHERE p.partrelid = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                  AND p.partstrat = 'r')
  FROM setup_expected_table e
 WHERE e.partitioned;

-- A default partition keeps rows outside the partitions' ranges from being refused, and the
-- current month (day, for the log tables) must exist or every row lands in the default partition.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'partition', format('%s.%s_default', e.schema_name, e.table_name),
       EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p
                WHERE p.partrelid = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                  AND p.partdefid = to_regclass(format('%I.%I', e.schema_name, e.table_name || '_default')))
  FROM setup_expected_table e
 WHERE e.partitioned
UNION ALL
-- The log tables are partitioned by day (migration 0006), the others by month.
SELECT 'partition', format('%s.%s', e.schema_name, c.partition_name),
       EXISTS (SELECT FROM pg_catalog.pg_inherits i
                WHERE i.inhparent = to_regclass(format('%I.%I', e.schema_name, e.table_name))
                  AND i.inhrelid = to_regclass(format('%I.%I', e.schema_name, c.partition_name)))
  FROM setup_expected_table e
 CROSS JOIN LATERAL (SELECT e.table_name || '_p'
                            || to_char(now() AT TIME ZONE 'UTC', CASE WHEN e.schema_name = 'logging' THEN 'YYYYMMDD' ELSE 'YYYYMM' END)
                            AS partition_name) c
 WHERE e.partitioned;

INSERT INTO setup_check (kind, object_name, present)
SELECT 'trigger', format('%s on %s', e.trigger_name, e.table_name),
       EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = to_regclass(e.table_name) AND t.tgname = e.trigger_name AND NOT t.tgisinternal)
  FROM (VALUES ('shared.system_config',                 'touch_updated_at'),
               ('shared.accounts',                      'touch_updated_at'),
               ('data_ingestion.symbols',               'touch_updated_at'),
               ('data_ingestion.delisted_symbols',      'touch_updated_at'),
               ('data_ingestion.ingestion_runs',        'touch_updated_at'),
               ('data_ingestion.symbol_data_status',    'touch_updated_at'),
               ('data_ingestion.market_data',           'touch_updated_at'),
               ('data_ingestion.company_info',          'touch_updated_at'),
               ('data_ingestion.key_statistics',        'touch_updated_at'),
               ('data_ingestion.institutional_holders', 'touch_updated_at'),
               ('strategy_engine.strategies',           'touch_updated_at'),
               ('strategy_engine.strategy_performance', 'touch_updated_at'),
               ('execution.orders',                     'touch_updated_at'),
               ('execution.positions',                  'touch_updated_at'),
               ('risk_management.risk_limits',          'touch_updated_at'),
               ('risk_management.position_limits',      'touch_updated_at'),
               ('analytics.portfolio_summary',          'touch_updated_at'),
               ('analytics.performance_metrics',        'touch_updated_at'),
               ('notification.notification_configs',    'touch_updated_at'),
               ('notification.notification_logs',       'touch_updated_at'),
               ('execution.order_events',               'append_only'),
               ('shared.audit_log',                     'append_only'),
               -- The audit trail (migration 0010): every table users or services change.
               ('shared.audit_log',                     'append_only_truncate'),
               ('shared.audit_seals',                   'append_only'),
               ('shared.audit_seals',                   'append_only_truncate'),
               ('shared.audit_seal_blocks',             'append_only'),
               ('shared.audit_seal_blocks',             'append_only_truncate'),
               ('shared.accounts',                      'audit_changes'),
               ('shared.system_config',                 'audit_changes'),
               ('data_ingestion.symbols',               'audit_changes'),
               ('strategy_engine.strategies',           'audit_changes'),
               ('execution.orders',                     'audit_changes'),
               ('execution.positions',                  'audit_changes'),
               ('risk_management.risk_limits',          'audit_changes'),
               ('risk_management.position_limits',      'audit_changes'),
               ('notification.notification_configs',    'audit_changes'),
               ('shared.api_tokens',                    'audit_changes')
       ) AS e (table_name, trigger_name);

INSERT INTO setup_check (kind, object_name, present)
SELECT 'index', e.index_name,
       EXISTS (SELECT FROM pg_catalog.pg_class c
                WHERE c.oid = to_regclass(e.index_name) AND c.relkind IN ('i', 'I'))
  FROM (VALUES ('data_ingestion.idx_market_data_ts'),
               ('data_ingestion.idx_market_data_ingestion_run_id'),
               ('data_ingestion.idx_ingestion_runs_status_started_at'),
               ('data_ingestion.idx_ingestion_runs_source_started_at'),
               ('data_ingestion.idx_data_quality_logs_ingestion_run_id'),
               ('data_ingestion.idx_data_quality_logs_symbol_created_at'),
               ('data_ingestion.idx_company_info_ingestion_run_id'),
               ('data_ingestion.idx_key_statistics_ingestion_run_id'),
               ('data_ingestion.idx_institutional_holders_ingestion_run_id'),
               ('strategy_engine.idx_strategy_signals_strategy_id_generated_at'),
               ('strategy_engine.idx_strategy_signals_symbol_generated_at'),
               ('execution.idx_orders_open_account_id_symbol'),
               ('execution.idx_orders_symbol'),
               ('execution.idx_orders_strategy_id'),
               ('execution.idx_orders_signal_id'),
               ('execution.idx_orders_created_at'),
               ('execution.idx_orders_broker_order_id'),
               ('execution.idx_order_events_order_id_occurred_at'),
               ('execution.idx_trades_account_id_symbol_executed_at'),
               ('execution.idx_trades_order_id'),
               ('execution.idx_trades_account_id_executed_at'),
               ('execution.idx_execution_logs_order_id'),
               ('execution.idx_execution_logs_account_id_logged_at'),
               ('risk_management.idx_risk_events_account_id_occurred_at'),
               ('risk_management.idx_risk_events_risk_limit_id'),
               ('risk_management.idx_risk_events_order_id'),
               ('notification.idx_notification_logs_config_id_created_at'),
               ('notification.idx_notification_logs_event_id'),
               ('logging.idx_system_logs_service_logged_at'),
               ('logging.idx_system_logs_correlation_id'),
               ('logging.idx_system_logs_level_logged_at'),
               ('logging.idx_performance_logs_operation_logged_at'),
               ('logging.idx_performance_logs_service_logged_at'),
               ('logging.idx_performance_logs_correlation_id'),
               ('shared.idx_audit_log_table_schema_table_name_row_key'),
               ('shared.idx_audit_log_occurred_at'),
               ('shared.idx_audit_log_txid'),
               ('shared.idx_audit_seal_blocks_audit_id_range')
       ) AS e (index_name);

-- Backups dump single schemas: anything of ours in public would be in no backup.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'public-schema', 'no tables, functions or types of ours in schema public',
       NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                    WHERE c.relnamespace = public_schema.oid
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_proc p
                    WHERE p.pronamespace = public_schema.oid
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                       WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'))
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_type t
                    WHERE t.typnamespace = public_schema.oid
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                                       WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'))
  FROM (SELECT (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public') AS oid) AS public_schema;

-- ---------------------------------------------------------------------------------------------
-- Privileges: every role x schema and role x table, both what must be granted and what must
-- not be. The oid forms of has_*_privilege return null instead of failing when a role or
-- object is missing, so one missing object cannot stop the report.
-- ---------------------------------------------------------------------------------------------

CREATE TEMP TABLE IF NOT EXISTS setup_expected_grantee (grantee text);
TRUNCATE setup_expected_grantee;
INSERT INTO setup_expected_grantee (grantee)
SELECT role_name FROM setup_expected_role WHERE is_service OR role_name = 'trading_readonly';

-- Schemas: USAGE where the matrix grants access, no USAGE elsewhere, CREATE nowhere.
INSERT INTO setup_check (kind, object_name, present)
SELECT CASE WHEN expected THEN 'grant' ELSE 'privilege-absent' END,
       format('%s%s %s on schema %s', CASE WHEN expected THEN '' ELSE 'no ' END, grantee, privilege, schema_name),
       CASE WHEN expected THEN coalesce(held, false) ELSE coalesce(NOT held, true) END
  FROM (SELECT g.grantee, s.schema_name, p.privilege,
               p.privilege = 'USAGE' AND a.access IS NOT NULL AS expected,
               has_schema_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                    (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = s.schema_name),
                                    p.privilege) AS held
          FROM setup_expected_grantee g
         CROSS JOIN setup_expected_schema s
         CROSS JOIN (VALUES ('USAGE'), ('CREATE')) AS p (privilege)
          LEFT JOIN setup_expected_access a ON a.grantee = g.grantee AND a.schema_name = s.schema_name
        UNION ALL
        SELECT 'PUBLIC', s.schema_name, p.privilege, false,
               has_schema_privilege('public',
                                    (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = s.schema_name),
                                    p.privilege)
          FROM setup_expected_schema s
         CROSS JOIN (VALUES ('USAGE'), ('CREATE')) AS p (privilege)) AS checks;

-- Tables: own schema read-write, readable schemas SELECT only, every other table nothing.
-- TRUNCATE, REFERENCES and TRIGGER are granted to nobody. The audit trail is the owner's alone
-- (migration 0010): its old and new values are account data that row-level security guards; so
-- are the API tokens (0011).
INSERT INTO setup_check (kind, object_name, present)
SELECT CASE WHEN expected THEN 'grant' ELSE 'privilege-absent' END,
       format('%s%s %s on %s', CASE WHEN expected THEN '' ELSE 'no ' END, grantee, privilege, table_name),
       CASE WHEN expected THEN coalesce(held, false) ELSE coalesce(NOT held, true) END
  FROM (SELECT g.grantee, t.schema_name || '.' || t.table_name AS table_name, p.privilege,
               ((a.access = 'write' AND p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE'))
                   OR (a.access = 'read' AND p.privilege = 'SELECT'))
                   AND (t.schema_name, t.table_name) NOT IN (('shared', 'audit_log'), ('shared', 'audit_seals'), ('shared', 'audit_seal_state'), ('shared', 'audit_seal_blocks'), ('shared', 'api_tokens')) AS expected,
               has_table_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                   to_regclass(format('%I.%I', t.schema_name, t.table_name)),
                                   p.privilege) AS held
          FROM setup_expected_grantee g
         CROSS JOIN setup_expected_table t
         CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'),
                            ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p (privilege)
          LEFT JOIN setup_expected_access a ON a.grantee = g.grantee AND a.schema_name = t.schema_name
        UNION ALL
        SELECT 'PUBLIC', t.schema_name || '.' || t.table_name, p.privilege, false,
               has_table_privilege('public', to_regclass(format('%I.%I', t.schema_name, t.table_name)),
                                   p.privilege)
          FROM setup_expected_table t
         CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'),
                            ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS p (privilege)) AS checks;

-- Identity sequences: the writing service may draw ids (needed for nextval and for copies).
INSERT INTO setup_check (kind, object_name, present)
SELECT 'grant', format('%s USAGE on the sequence of %s.%s.%s', a.grantee, t.schema_name, t.table_name, t.identity_column),
       coalesce(has_sequence_privilege(
           (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = a.grantee),
           (SELECT d.objid FROM pg_catalog.pg_depend d
              JOIN pg_catalog.pg_attribute att ON att.attrelid = d.refobjid AND att.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = to_regclass(format('%I.%I', t.schema_name, t.table_name))
               AND att.attname = t.identity_column AND d.deptype = 'i'),
           'USAGE'), false)
  FROM setup_expected_table t
  JOIN setup_expected_access a ON a.schema_name = t.schema_name AND a.access = 'write'
 WHERE t.identity_column IS NOT NULL;

-- Row-level security: account-owned tables isolate accounts.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'row-level-security', format('%s: RLS on, policy account_isolation', t.table_name),
       coalesce((SELECT c.relrowsecurity FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(t.table_name)), false)
       AND EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = to_regclass(t.table_name) AND p.polname = 'account_isolation')
  FROM (VALUES ('shared.accounts'), ('execution.orders'), ('execution.order_events'), ('execution.trades'),
               ('execution.positions'), ('execution.execution_logs'), ('risk_management.risk_limits'),
               ('risk_management.position_limits'), ('risk_management.risk_events'),
               ('analytics.portfolio_summary'), ('analytics.performance_metrics')) AS t (table_name);

-- Functions: services call shared's, PUBLIC calls none of ours.
INSERT INTO setup_check (kind, object_name, present)
SELECT CASE WHEN expected THEN 'grant' ELSE 'privilege-absent' END,
       format('%s%s EXECUTE on %s', CASE WHEN expected THEN '' ELSE 'no ' END, grantee, signature),
       CASE WHEN expected THEN coalesce(held, false) ELSE coalesce(NOT held, true) END
  FROM (SELECT g.grantee, f.signature, g.grantee <> 'trading_readonly' AS expected,
               has_function_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                      to_regprocedure(f.signature), 'EXECUTE') AS held
          FROM setup_expected_grantee g
         CROSS JOIN (VALUES ('shared.create_monthly_partitions(regclass,date,integer)'),
                            ('shared.create_daily_partitions(regclass,date,integer)'),
                            ('shared.touch_updated_at()'),
                            ('shared.forbid_update_delete()')) AS f (signature)
        UNION ALL
        SELECT 'PUBLIC', f.signature, false,
               has_function_privilege('public', to_regprocedure(f.signature), 'EXECUTE')
          FROM (VALUES ('shared.create_monthly_partitions(regclass,date,integer)'),
                       ('shared.create_daily_partitions(regclass,date,integer)'),
                       ('shared.touch_updated_at()'),
                       ('shared.forbid_update_delete()'),
                       ('shared.authenticate_api_token(bytea)'),
                       ('data_ingestion.ensure_market_data_partitions(date[])')) AS f (signature)
        UNION ALL
        -- The partition door of the loaders is data_ingestion's alone.
        SELECT g.grantee, 'data_ingestion.ensure_market_data_partitions(date[])',
               g.grantee = 'data_ingestion_user',
               has_function_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                      to_regprocedure('data_ingestion.ensure_market_data_partitions(date[])'),
                                      'EXECUTE')
          FROM setup_expected_grantee g
        UNION ALL
        -- Risk breaches are recorded by the order's transaction (execution) and risk management.
        SELECT g.grantee, 'risk_management.record_risk_event(text,bigint,text,text,text,jsonb,bigint)',
               g.grantee IN ('execution_user', 'risk_management_user'),
               has_function_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                      to_regprocedure('risk_management.record_risk_event(text,bigint,text,text,text,jsonb,bigint)'),
                                      'EXECUTE')
          FROM setup_expected_grantee g
        UNION ALL
        -- Orders are placed, changed and filled by execution alone; its transaction runs the risk
        -- check; every service that reads bars may price by the last close.
        SELECT g.grantee, f.signature, g.grantee = ANY (f.callers),
               has_function_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee),
                                      to_regprocedure(f.signature), 'EXECUTE')
          FROM setup_expected_grantee g
         CROSS JOIN (VALUES
                ('execution.place_order(text,text,text,text,text,text,numeric,numeric,numeric,bigint,bigint)', ARRAY['execution_user']),
                ('execution.record_fill(text,bigint,text,numeric,numeric,numeric,timestamptz)', ARRAY['execution_user']),
                ('execution.execute_order(text,text,text,text,text,text,numeric,numeric,numeric,bigint,bigint,text,numeric,numeric,numeric,timestamptz)', ARRAY['execution_user']),
                ('execution.change_order_status(text,bigint,text,text,integer,text)', ARRAY['execution_user']),
                ('risk_management.check_order(text,text,text,numeric,numeric,numeric,bigint,boolean)', ARRAY['execution_user', 'risk_management_user']),
                ('data_ingestion.latest_close(text,timestamptz)', ARRAY['data_ingestion_user', 'strategy_engine_user', 'execution_user',
                                                                       'risk_management_user', 'analytics_user', 'trading_readonly']),
                ('strategy_engine.record_daily_performance(date)', ARRAY['strategy_engine_user']),
                -- The API checks tokens as logging_user (0012).
                ('shared.authenticate_api_token(bytea)', ARRAY['logging_user'])
               ) AS f (signature, callers)) AS checks;

-- The API reads every role's statement statistics as logging_user (0012).
INSERT INTO setup_check (kind, object_name, present)
SELECT 'role-membership', 'logging_user is a member of pg_read_all_stats',
       pg_has_role('logging_user', 'pg_read_all_stats', 'MEMBER');

-- The audit trail's functions are the owner's: no service seals, verifies or writes it.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no %s EXECUTE on %s', g.grantee, f.signature),
       to_regprocedure(f.signature) IS NOT NULL
       AND NOT has_function_privilege(coalesce((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee), 0),
                                      to_regprocedure(f.signature), 'EXECUTE')
  FROM (SELECT grantee FROM setup_expected_grantee UNION ALL SELECT 'public') AS g
 CROSS JOIN (VALUES ('shared.audit_row_change()'), ('shared.audit_table(regclass,text[])'),
                    ('shared.seal_audit_log(integer)'), ('shared.verify_audit_chain()'), ('shared.restrict_to_owner(regclass)'),
                    -- migration 0019
                    ('shared.audit_chain()'), ('shared.audit_chain_seq(bigint)'), ('shared.audit_chain_end(text,text)')) AS f (signature);

-- Default privileges: tables, sequences and functions that later migrations create as the
-- owner must get exactly the same grants.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'default-privilege',
       format('%s %s on new %s in %s', a.grantee, o.privileges, o.object_type, a.schema_name),
       coalesce((SELECT string_agg(x.privilege_type, ', ' ORDER BY x.privilege_type)
                   FROM pg_catalog.pg_default_acl d
                  CROSS JOIN LATERAL aclexplode(d.defaclacl) AS x
                  WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = :'trading_db_user')
                    AND d.defaclnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = a.schema_name)
                    AND d.defaclobjtype = o.objtype
                    AND x.grantee = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = a.grantee))
                = o.privileges, false)
  FROM setup_expected_access a
  JOIN (VALUES ('r', 'tables',    'write', 'DELETE, INSERT, SELECT, UPDATE'),
               ('r', 'tables',    'read',  'SELECT'),
               ('S', 'sequences', 'write', 'SELECT, USAGE'),
               ('f', 'functions', 'write', 'EXECUTE'),
               ('f', 'functions', 'read',  'EXECUTE')
       ) AS o (objtype, object_type, access, privileges)
    ON o.access = a.access
   AND (o.objtype <> 'f' OR a.access = 'write' OR (a.schema_name = 'shared' AND a.grantee <> 'trading_readonly'))
   -- New tables in shared are not readable by default since migration 0010 (a new month of the
   -- audit trail must not be): each is granted by the migration that makes it.
   AND NOT (o.objtype = 'r' AND a.schema_name = 'shared');

INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no %s SELECT on new tables in shared', g.grantee),
       NOT EXISTS (SELECT FROM pg_catalog.pg_default_acl d
                    CROSS JOIN LATERAL aclexplode(d.defaclacl) AS x
                    WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = :'trading_db_user')
                      AND d.defaclnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'shared')
                      AND d.defaclobjtype = 'r'
                      AND x.grantee = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee))
  FROM setup_expected_grantee g;

-- Every month of the audit trail is the owner's alone, like the trail itself.
INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no %s access to %s', g.grantee, i.inhrelid::regclass),
       NOT coalesce(has_table_privilege((SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = g.grantee), i.inhrelid,
                                        'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'), false)
  FROM setup_expected_grantee g
 CROSS JOIN pg_catalog.pg_inherits i
 WHERE i.inhparent = to_regclass('shared.audit_log');

INSERT INTO setup_check (kind, object_name, present)
SELECT 'privilege-absent', format('no PUBLIC EXECUTE on new functions of %s', :'trading_db_user'),
       EXISTS (SELECT FROM pg_catalog.pg_default_acl d
                WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = :'trading_db_user')
                  AND d.defaclnamespace = 0
                  AND d.defaclobjtype = 'f'
                  AND NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) AS x WHERE x.grantee = 0));

-- ---------------------------------------------------------------------------------------------
-- Report, then fail naming everything that is missing
-- ---------------------------------------------------------------------------------------------

SELECT kind,
       count(*) AS expected,
       count(*) FILTER (WHERE present) AS present,
       coalesce(string_agg(object_name, ', ' ORDER BY object_name) FILTER (WHERE NOT present), '') AS missing
  FROM setup_check
 GROUP BY kind
 ORDER BY kind;

DO $$
DECLARE
    total_count   integer;
    missing_count integer;
    missing_list  text;
BEGIN
    SELECT count(*),
           count(*) FILTER (WHERE present IS NOT TRUE),
           string_agg(kind || ' ' || object_name, ', ' ORDER BY kind, object_name) FILTER (WHERE present IS NOT TRUE)
      INTO total_count, missing_count, missing_list
      FROM setup_check;
    IF total_count = 0 THEN
        RAISE EXCEPTION 'tradedb verify failed: no checks were recorded';
    END IF;
    IF missing_count > 0 THEN
        RAISE EXCEPTION 'tradedb verify failed: % missing: %', missing_count, missing_list;
    END IF;
    RAISE NOTICE 'tradedb verify: all % checks passed', total_count;
END
$$;
