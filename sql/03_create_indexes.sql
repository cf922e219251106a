-- tradedb 03: secondary indexes, for the queries the services run beyond their keys.
-- Run as a superuser in the trading database, after 02:
--   psql -v ON_ERROR_STOP=1 -h HOST -U postgres -d trading_system -f sql/03_create_indexes.sql
-- Idempotent (CREATE INDEX IF NOT EXISTS). Names are idx_<table>_<columns>. An index on a
-- partitioned table is declared on the parent, which creates it on every partition, present
-- and future. Primary keys and unique constraints (02) already serve lookups by their leading
-- columns, e.g. market_data (symbol, interval, ts) range scans, in either direction.
\ir include/defaults.sql

SET client_min_messages = warning;
-- Indexes belong to their table's owner either way. Running as the owner keeps 03 from
-- needing anything 02 did not grant.
SET ROLE :"trading_db_user";

-- data_ingestion ----------------------------------------------------------------------------

-- Cross-symbol time scans (all bars of a day) within a partition. BRIN stays tiny because
-- bars arrive roughly in time order.
CREATE INDEX IF NOT EXISTS idx_market_data_ts
    ON data_ingestion.market_data USING brin (ts);
-- Undoing or auditing one load, and the foreign key check when a run is deleted.
CREATE INDEX IF NOT EXISTS idx_market_data_ingestion_run_id
    ON data_ingestion.market_data (ingestion_run_id) WHERE ingestion_run_id IS NOT NULL;

-- "Latest runs", "is a run still going".
CREATE INDEX IF NOT EXISTS idx_ingestion_runs_status_started_at
    ON data_ingestion.ingestion_runs (status, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_ingestion_runs_source_started_at
    ON data_ingestion.ingestion_runs (source, started_at DESC);

CREATE INDEX IF NOT EXISTS idx_data_quality_logs_ingestion_run_id
    ON data_ingestion.data_quality_logs (ingestion_run_id);
CREATE INDEX IF NOT EXISTS idx_data_quality_logs_symbol_created_at
    ON data_ingestion.data_quality_logs (symbol, created_at DESC);

-- Foreign key checks when an ingestion run is deleted.
CREATE INDEX IF NOT EXISTS idx_company_info_ingestion_run_id
    ON data_ingestion.company_info (ingestion_run_id) WHERE ingestion_run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_key_statistics_ingestion_run_id
    ON data_ingestion.key_statistics (ingestion_run_id) WHERE ingestion_run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_institutional_holders_ingestion_run_id
    ON data_ingestion.institutional_holders (ingestion_run_id) WHERE ingestion_run_id IS NOT NULL;

-- strategy_engine ---------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS idx_strategy_signals_strategy_id_generated_at
    ON strategy_engine.strategy_signals (strategy_id, generated_at DESC);
CREATE INDEX IF NOT EXISTS idx_strategy_signals_symbol_generated_at
    ON strategy_engine.strategy_signals (symbol, generated_at DESC);

-- execution -------------------------------------------------------------------------------

-- Open orders per account: the hot set (risk checks, reconciliation) is a small fraction of
-- all orders, so the index covers only it.
CREATE INDEX IF NOT EXISTS idx_orders_account_id_status
    ON execution.orders (account_id, status)
    WHERE status IN ('pending', 'submitted', 'partially_filled');
CREATE INDEX IF NOT EXISTS idx_orders_symbol
    ON execution.orders (symbol);
CREATE INDEX IF NOT EXISTS idx_orders_strategy_id
    ON execution.orders (strategy_id) WHERE strategy_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_orders_signal_id
    ON execution.orders (signal_id) WHERE signal_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_orders_created_at
    ON execution.orders (created_at);
-- Broker callbacks carry only the broker's id.
CREATE INDEX IF NOT EXISTS idx_orders_broker_order_id
    ON execution.orders (broker_order_id) WHERE broker_order_id IS NOT NULL;

-- An order's history in order, and the foreign key check on orders.
CREATE INDEX IF NOT EXISTS idx_order_events_order_id_occurred_at
    ON execution.order_events (order_id, occurred_at);

CREATE INDEX IF NOT EXISTS idx_trades_account_id_symbol_executed_at
    ON execution.trades (account_id, symbol, executed_at);
CREATE INDEX IF NOT EXISTS idx_trades_order_id
    ON execution.trades (order_id);
-- An account's fills of a day across symbols: the daily loss limit, checked on every order.
CREATE INDEX IF NOT EXISTS idx_trades_account_id_executed_at
    ON execution.trades (account_id, executed_at);

CREATE INDEX IF NOT EXISTS idx_execution_logs_order_id
    ON execution.execution_logs (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_execution_logs_account_id_logged_at
    ON execution.execution_logs (account_id, logged_at DESC);

-- risk_management -------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS idx_risk_events_account_id_occurred_at
    ON risk_management.risk_events (account_id, occurred_at DESC);
CREATE INDEX IF NOT EXISTS idx_risk_events_risk_limit_id
    ON risk_management.risk_events (risk_limit_id) WHERE risk_limit_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_risk_events_order_id
    ON risk_management.risk_events (order_id) WHERE order_id IS NOT NULL;

-- notification ------------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS idx_notification_logs_config_id_created_at
    ON notification.notification_logs (config_id, created_at DESC);
-- "Was this event already delivered?" is asked with the event id alone.
CREATE INDEX IF NOT EXISTS idx_notification_logs_event_id
    ON notification.notification_logs (event_id);

-- logging -----------------------------------------------------------------------------------

CREATE INDEX IF NOT EXISTS idx_system_logs_service_logged_at
    ON logging.system_logs (service, logged_at DESC);
CREATE INDEX IF NOT EXISTS idx_system_logs_correlation_id
    ON logging.system_logs (correlation_id) WHERE correlation_id IS NOT NULL;
-- Errors are what people look for and a small share of rows.
CREATE INDEX IF NOT EXISTS idx_system_logs_level_logged_at
    ON logging.system_logs (level, logged_at DESC) WHERE level IN ('error', 'fatal');

CREATE INDEX IF NOT EXISTS idx_performance_logs_operation_logged_at
    ON logging.performance_logs (operation, logged_at DESC);
CREATE INDEX IF NOT EXISTS idx_performance_logs_service_logged_at
    ON logging.performance_logs (service, logged_at DESC);
CREATE INDEX IF NOT EXISTS idx_performance_logs_correlation_id
    ON logging.performance_logs (correlation_id) WHERE correlation_id IS NOT NULL;

-- shared ------------------------------------------------------------------------------------

-- The history of one row.
CREATE INDEX IF NOT EXISTS idx_audit_log_table_schema_table_name_row_key
    ON shared.audit_log (table_schema, table_name, row_key);
CREATE INDEX IF NOT EXISTS idx_audit_log_occurred_at
    ON shared.audit_log (occurred_at);

RESET ROLE;
RESET client_min_messages;
