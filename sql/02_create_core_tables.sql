-- tradedb 02: extensions, schemas, functions, core tables, partitions and grants.
-- Run as a superuser in the trading database, after 01:
--   psql -v ON_ERROR_STOP=1 -h HOST -U postgres -d trading_system -f sql/02_create_core_tables.sql
-- Idempotent: every object is created only when missing, so running it again changes nothing.
-- Later changes to these tables belong in sql/migrations, not here (IF NOT EXISTS does not
-- reconcile a table that already exists).
\ir include/defaults.sql
\ir include/migration-ledger.sql

-- Re-runs would otherwise print one "already exists, skipping" notice per object.
SET client_min_messages = warning;

-- Extensions need a superuser. They live in shared because backups dump single schemas.
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA shared;
DO $$
BEGIN
    -- Optional: packaged builds without contrib lack it, and setup must still succeed there.
    IF EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA shared;
    END IF;
END
$$;

-- One schema per service. The public schema is left as PostgreSQL made it.
CREATE SCHEMA IF NOT EXISTS data_ingestion  AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS strategy_engine AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS execution       AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS risk_management AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS analytics       AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS notification    AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS logging         AUTHORIZATION :"trading_db_user";
CREATE SCHEMA IF NOT EXISTS shared          AUTHORIZATION :"trading_db_user";

-- Everything below is owned by the owner role, never by the superuser running the script.
SET ROLE :"trading_db_user";

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------

-- Schema-qualified instead of SET search_path: a SET clause costs a GUC save/restore on every
-- row of a bulk update.
CREATE OR REPLACE FUNCTION shared.touch_updated_at()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION shared.touch_updated_at() IS
    'BEFORE UPDATE trigger: keeps updated_at true even when a caller forgets to set it.';

CREATE OR REPLACE FUNCTION shared.forbid_update_delete()
    RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Record a new row instead; old rows leave by dropping partitions or TRUNCATE.';
END
$$;
COMMENT ON FUNCTION shared.forbid_update_delete() IS
    'BEFORE UPDATE OR DELETE row trigger for history tables: rows, once written, are facts.';

CREATE OR REPLACE FUNCTION shared.create_monthly_partitions(parent regclass, first_month date, months integer)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_schema  name;
    parent_table   name;
    parent_owner   name;
    key_type       regtype;
    month_start    date;
    partition_name text;
    bound_from     text;
    bound_to       text;
    grant_row      record;
    created        integer := 0;
BEGIN
    IF months IS NULL OR months < 0 THEN
        RAISE EXCEPTION 'months must be zero or more, got %', months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF first_month IS NULL THEN
        RAISE EXCEPTION 'first_month must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), a.atttypid::regtype
      INTO parent_schema, parent_table, parent_owner, key_type
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_partitioned_table p ON p.partrelid = c.oid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
     WHERE c.oid = parent
       AND p.partstrat = 'r'
       AND p.partnatts = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a table partitioned by range on one column', parent
            USING ERRCODE = 'wrong_object_type';
    END IF;

    -- Concurrent callers (setup and the maintenance flow) must not race to create one month.
    PERFORM pg_advisory_xact_lock(hashtext('shared.create_monthly_partitions'), hashtext(parent::text));

    FOR i IN 0 .. months - 1 LOOP
        month_start := (date_trunc('month', first_month::timestamp) + make_interval(months => i))::date;
        partition_name := format('%s_p%s', parent_table, to_char(month_start, 'YYYYMM'));
        IF octet_length(partition_name) > 63 THEN
            RAISE EXCEPTION 'partition name % is longer than 63 bytes', partition_name
                USING ERRCODE = 'name_too_long';
        END IF;
        CONTINUE WHEN to_regclass(format('%I.%I', parent_schema, partition_name)) IS NOT NULL;

        -- Month boundaries are UTC midnights whatever the session's TimeZone is.
        bound_from := to_char(month_start, 'YYYY-MM-DD');
        bound_to := to_char((month_start + interval '1 month')::date, 'YYYY-MM-DD');
        IF key_type = 'timestamp with time zone'::regtype THEN
            bound_from := bound_from || ' 00:00:00+00';
            bound_to := bound_to || ' 00:00:00+00';
        END IF;
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                       parent_schema, partition_name, parent_schema, parent_table, bound_from, bound_to);
        -- A superuser's maintenance run must not leave partitions the owner cannot drop.
        IF current_user <> parent_owner THEN
            EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', parent_schema, partition_name, parent_owner);
        END IF;
        -- Same grants as the parent whoever creates it, so a re-run of 02 finds nothing to add.
        FOR grant_row IN
            SELECT a.grantee, a.privilege_type
              FROM pg_class c, aclexplode(c.relacl) AS a
             WHERE c.oid = parent AND a.grantee <> c.relowner
        LOOP
            EXECUTE format('GRANT %s ON TABLE %I.%I TO %s', grant_row.privilege_type, parent_schema, partition_name,
                           CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC'
                                ELSE quote_ident(pg_get_userbyid(grant_row.grantee)) END);
        END LOOP;
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION shared.create_monthly_partitions(regclass, date, integer) IS
    'Creates the missing monthly partitions <table>_pYYYYMM of a range-partitioned table for '
    '`months` months from the month of first_month (UTC boundaries), with the parent''s owner and '
    'grants, and returns how many it created. '
    'Fails if the default partition already holds rows of a month being created.';

-- ---------------------------------------------------------------------------------------------
-- shared: configuration, accounts, audit trail (schema_migrations comes from the include)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS shared.system_config (
    key         text        PRIMARY KEY CHECK (key ~ '^[^[:space:]]+$'),
    value       jsonb       NOT NULL,
    description text,
    -- Optimistic locking: UPDATE ... SET version = version + 1 WHERE key = $1 AND version = $2.
    version     integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL DEFAULT current_user
);

-- The distribution column of every trading table: readable ids ('paper-main') rather than
-- numbers, so logs and events name the account without a lookup.
CREATE TABLE IF NOT EXISTS shared.accounts (
    account_id    text          PRIMARY KEY CHECK (account_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name          text          NOT NULL CHECK (btrim(name) <> ''),
    base_currency char(3)       NOT NULL DEFAULT 'USD' CHECK (base_currency::text ~ '^[A-Z]{3}$'),
    starting_cash numeric(20,8) NOT NULL DEFAULT 0 CHECK (starting_cash >= 0),
    status        text          NOT NULL DEFAULT 'active'
                                CHECK (status IN ('active', 'suspended', 'closed')),
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now()
);

-- Partitioned by month so that retention drops partitions instead of deleting rows.
CREATE TABLE IF NOT EXISTS shared.audit_log (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    table_schema text        NOT NULL,
    table_name   text        NOT NULL,
    row_key      jsonb       NOT NULL,
    operation    text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    old_values   jsonb,
    new_values   jsonb,
    db_role      text        NOT NULL DEFAULT current_user,
    actor        text,
    txid         bigint      NOT NULL DEFAULT txid_current(),
    PRIMARY KEY (id, occurred_at),
    CONSTRAINT audit_log_values_check
        CHECK ((operation <> 'INSERT' OR old_values IS NULL) AND (operation <> 'DELETE' OR new_values IS NULL))
) PARTITION BY RANGE (occurred_at);
CREATE TABLE IF NOT EXISTS shared.audit_log_default PARTITION OF shared.audit_log DEFAULT;

-- ---------------------------------------------------------------------------------------------
-- data_ingestion: instruments, bars, reference data, and the runs that loaded them
-- ---------------------------------------------------------------------------------------------

-- Reference table (small, replicated to every node when distributed).
CREATE TABLE IF NOT EXISTS data_ingestion.symbols (
    -- Upper case vendor tickers: BRK-B, ^GSPC, EURUSD=X, ES=F, BTC-USD.
    symbol      text        PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9^][A-Z0-9.^=/:_&-]{0,31}$'),
    name        text,
    exchange    text,
    asset_class text        NOT NULL DEFAULT 'equity'
                            CHECK (asset_class IN ('equity', 'etf', 'index', 'fund', 'fx', 'crypto',
                                                   'future', 'option', 'bond', 'commodity')),
    currency    char(3)     NOT NULL DEFAULT 'USD' CHECK (currency::text ~ '^[A-Z]{3}$'),
    status      text        NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'delisted', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- History, not a flag: a symbol can be delisted and relisted more than once.
CREATE TABLE IF NOT EXISTS data_ingestion.delisted_symbols (
    symbol      text        NOT NULL REFERENCES data_ingestion.symbols (symbol),
    delisted_on date        NOT NULL,
    reason      text,
    relisted_on date,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, delisted_on),
    CONSTRAINT delisted_symbols_relisted_on_check CHECK (relisted_on >= delisted_on)
);

CREATE TABLE IF NOT EXISTS data_ingestion.ingestion_runs (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source         text        NOT NULL CHECK (btrim(source) <> ''),
    -- Null for runs that load no bars (company info, statistics, holders).
    interval       text        CHECK (interval IN ('1m', '5m', '15m', '30m', '1h', '1d', '1wk', '1mo')),
    status         text        NOT NULL DEFAULT 'running'
                               CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'cancelled')),
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    -- Counters move with each committed batch, so a crashed run still shows how far it got.
    -- read = inserted + updated + unchanged + rejected once the run has ended.
    rows_read      bigint      NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    rows_inserted  bigint      NOT NULL DEFAULT 0 CHECK (rows_inserted >= 0),
    rows_updated   bigint      NOT NULL DEFAULT 0 CHECK (rows_updated >= 0),
    rows_unchanged bigint      NOT NULL DEFAULT 0 CHECK (rows_unchanged >= 0),
    rows_rejected  bigint      NOT NULL DEFAULT 0 CHECK (rows_rejected >= 0),
    error          text,
    parameters     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    started_by     text        NOT NULL DEFAULT current_user,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    -- A run that ended says when: an unfinished "failed" run would hide a crashed loader.
    CONSTRAINT ingestion_runs_finished_check
        CHECK ((status = 'running') = (finished_at IS NULL) AND finished_at >= started_at)
);

-- Where each (symbol, source, interval) series stands, so incremental loads resume from the
-- watermark instead of re-reading history.
CREATE TABLE IF NOT EXISTS data_ingestion.symbol_data_status (
    symbol          text        NOT NULL REFERENCES data_ingestion.symbols (symbol),
    source          text        NOT NULL CHECK (btrim(source) <> ''),
    interval        text        NOT NULL
                                CHECK (interval IN ('1m', '5m', '15m', '30m', '1h', '1d', '1wk', '1mo')),
    watermark       timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    last_error      text,
    row_count       bigint      NOT NULL DEFAULT 0 CHECK (row_count >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, source, interval)
);
COMMENT ON COLUMN data_ingestion.symbol_data_status.watermark IS
    'ts of the last bar loaded for this series; the next incremental load starts after it.';

-- The largest table: monthly partitions keep indexes small and make retention a DROP.
CREATE TABLE IF NOT EXISTS data_ingestion.market_data (
    symbol           text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    interval         text          NOT NULL
                                   CHECK (interval IN ('1m', '5m', '15m', '30m', '1h', '1d', '1wk', '1mo')),
    ts               timestamptz   NOT NULL,
    open             numeric(20,8) NOT NULL CHECK (open > 0),
    high             numeric(20,8) NOT NULL CHECK (high > 0),
    low              numeric(20,8) NOT NULL CHECK (low > 0),
    close            numeric(20,8) NOT NULL CHECK (close > 0),
    volume           numeric(28,8) NOT NULL DEFAULT 0 CHECK (volume >= 0),
    vwap             numeric(20,8) CHECK (vwap > 0),
    trade_count      integer       CHECK (trade_count >= 0),
    source           text          NOT NULL CHECK (btrim(source) <> ''),
    ingestion_run_id bigint        REFERENCES data_ingestion.ingestion_runs (id),
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, interval, ts, source),
    CONSTRAINT market_data_high_range_check CHECK (high >= greatest(open, close, low)),
    CONSTRAINT market_data_low_range_check CHECK (low <= least(open, close))
) PARTITION BY RANGE (ts);
CREATE TABLE IF NOT EXISTS data_ingestion.market_data_default PARTITION OF data_ingestion.market_data DEFAULT;
COMMENT ON COLUMN data_ingestion.market_data.ts IS 'Start of the bar, UTC.';

-- Loaders run as data_ingestion_user, which may not CREATE in the schema: this definer-rights
-- function is the one door through which they add the months a load touches, before the load's
-- own transaction (creating a partition locks the parent; the load must not hold that lock).
CREATE OR REPLACE FUNCTION data_ingestion.ensure_market_data_partitions(months date[])
    RETURNS integer
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    month_start date;
    month_from  timestamptz;
    created     integer := 0;
BEGIN
    FOREACH month_start IN ARRAY coalesce(months, '{}') LOOP
        CONTINUE WHEN month_start IS NULL;
        month_start := date_trunc('month', month_start)::date;
        CONTINUE WHEN to_regclass(format('data_ingestion.market_data_p%s', to_char(month_start, 'YYYYMM'))) IS NOT NULL;
        -- Rows of this month written while it had no partition sit in the default partition and
        -- would block its creation: set them aside, create the month, and put them back.
        month_from := (month_start::timestamp AT TIME ZONE 'UTC');
        CREATE TEMP TABLE IF NOT EXISTS market_data_moving (LIKE data_ingestion.market_data) ON COMMIT DROP;
        WITH moved AS (
            DELETE FROM data_ingestion.market_data_default
             WHERE ts >= month_from AND ts < month_from + interval '1 month'
            RETURNING *)
        INSERT INTO pg_temp.market_data_moving SELECT * FROM moved;
        created := created + shared.create_monthly_partitions('data_ingestion.market_data'::regclass, month_start, 1);
        INSERT INTO data_ingestion.market_data SELECT * FROM pg_temp.market_data_moving;
        TRUNCATE pg_temp.market_data_moving;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION data_ingestion.ensure_market_data_partitions(date[]) IS
    'Creates the missing monthly partitions of market_data for the months of the given dates '
    '(UTC months) with the owner''s rights, for loaders that may not create tables, moving any rows '
    'of those months out of the default partition into them; returns how many it created.';

-- Market caps pass 10^12, so aggregate amounts use numeric(28,8), not the price type.
CREATE TABLE IF NOT EXISTS data_ingestion.company_info (
    symbol           text          PRIMARY KEY REFERENCES data_ingestion.symbols (symbol),
    name             text,
    sector           text,
    industry         text,
    country          text,
    website          text,
    description      text,
    employees        integer       CHECK (employees >= 0),
    market_cap       numeric(28,8) CHECK (market_cap >= 0),
    ingestion_run_id bigint        REFERENCES data_ingestion.ingestion_runs (id),
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now()
);

-- One row per symbol and day, so statistics keep their history.
CREATE TABLE IF NOT EXISTS data_ingestion.key_statistics (
    symbol                  text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    as_of                   date          NOT NULL,
    market_cap              numeric(28,8) CHECK (market_cap >= 0),
    enterprise_value        numeric(28,8),
    pe_ratio                numeric(20,8),
    forward_pe              numeric(20,8),
    peg_ratio               numeric(20,8),
    price_to_book           numeric(20,8),
    price_to_sales          numeric(20,8),
    eps                     numeric(20,8),
    forward_eps             numeric(20,8),
    revenue                 numeric(28,8),
    profit_margin           numeric(20,8),
    dividend_rate           numeric(20,8) CHECK (dividend_rate >= 0),
    dividend_yield          numeric(20,8) CHECK (dividend_yield >= 0),
    beta                    numeric(20,8),
    fifty_two_week_high     numeric(20,8) CHECK (fifty_two_week_high > 0),
    fifty_two_week_low      numeric(20,8) CHECK (fifty_two_week_low > 0),
    fifty_day_average       numeric(20,8) CHECK (fifty_day_average > 0),
    two_hundred_day_average numeric(20,8) CHECK (two_hundred_day_average > 0),
    average_volume          numeric(28,8) CHECK (average_volume >= 0),
    shares_outstanding      numeric(28,8) CHECK (shares_outstanding >= 0),
    float_shares            numeric(28,8) CHECK (float_shares >= 0),
    ingestion_run_id        bigint        REFERENCES data_ingestion.ingestion_runs (id),
    created_at              timestamptz   NOT NULL DEFAULT now(),
    updated_at              timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, as_of),
    CONSTRAINT key_statistics_fifty_two_week_check CHECK (fifty_two_week_high >= fifty_two_week_low)
);
COMMENT ON COLUMN data_ingestion.key_statistics.dividend_yield IS 'Fraction: 0.0123 is 1.23 %.';
COMMENT ON COLUMN data_ingestion.key_statistics.profit_margin IS 'Fraction: 0.25 is 25 %.';

CREATE TABLE IF NOT EXISTS data_ingestion.institutional_holders (
    symbol           text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    report_date      date          NOT NULL,
    holder           text          NOT NULL CHECK (btrim(holder) <> ''),
    shares           numeric(28,8) NOT NULL CHECK (shares >= 0),
    value            numeric(28,8) CHECK (value >= 0),
    pct_held         numeric(12,8) CHECK (pct_held >= 0 AND pct_held <= 1),
    ingestion_run_id bigint        REFERENCES data_ingestion.ingestion_runs (id),
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, report_date, holder)
);
COMMENT ON COLUMN data_ingestion.institutional_holders.pct_held IS
    'Fraction of shares outstanding: 0.0876 is 8.76 %.';

-- Rejected or suspicious input, kept with its raw text so a bad file can be fixed and reloaded.
-- symbol is not a foreign key: an unknown symbol is itself a finding worth logging.
CREATE TABLE IF NOT EXISTS data_ingestion.data_quality_logs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ingestion_run_id bigint      REFERENCES data_ingestion.ingestion_runs (id),
    symbol           text,
    ts               timestamptz,
    rule             text        NOT NULL CHECK (btrim(rule) <> ''),
    severity         text        NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    detail           text        NOT NULL,
    raw_input        text,
    line_number      integer     CHECK (line_number > 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- strategy_engine
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS strategy_engine.strategies (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    -- Which implementation, whose parameter schema (in src/services/strategy-engine) the
    -- parameters were validated against.
    kind        text        NOT NULL DEFAULT 'manual' CHECK (kind ~ '^[a-z][a-z0-9_]*$'),
    description text,
    parameters  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(parameters) = 'object'),
    status      text        NOT NULL DEFAULT 'draft'
                            CHECK (status IN ('draft', 'active', 'paused', 'retired')),
    version     integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS strategy_engine.strategy_signals (
    id           bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy_id  bigint        NOT NULL REFERENCES strategy_engine.strategies (id),
    -- Null when a signal is not aimed at one account (the execution side decides).
    account_id   text          REFERENCES shared.accounts (account_id),
    symbol       text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    signal_type  text          NOT NULL CHECK (signal_type IN ('buy', 'sell', 'hold', 'close')),
    strength     numeric(9,8)  CHECK (strength >= 0 AND strength <= 1),
    price        numeric(20,8) CHECK (price > 0),
    quantity     numeric(28,8) CHECK (quantity > 0),
    generated_at timestamptz   NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    metadata     jsonb         NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT strategy_signals_expires_at_check CHECK (expires_at > generated_at),
    -- One signal per strategy, symbol and time: a strategy re-run over the same bars finds its signals.
    CONSTRAINT strategy_signals_strategy_symbol_time_key UNIQUE (strategy_id, symbol, generated_at)
);
COMMENT ON COLUMN strategy_engine.strategy_signals.strength IS
    'Confidence from 0 to 1; the direction is signal_type.';

-- Fractions throughout (returns 0.012 is +1.2 %), the same columns as analytics.performance_metrics.
CREATE TABLE IF NOT EXISTS strategy_engine.strategy_performance (
    strategy_id   bigint        NOT NULL REFERENCES strategy_engine.strategies (id),
    as_of         date          NOT NULL,
    returns       numeric(20,8),
    volatility    numeric(20,8) CHECK (volatility >= 0),
    sharpe        numeric(20,8),
    sortino       numeric(20,8),
    max_drawdown  numeric(20,8) CHECK (max_drawdown >= 0),
    trades        integer       NOT NULL DEFAULT 0 CHECK (trades >= 0),
    win_rate      numeric(9,8)  CHECK (win_rate >= 0 AND win_rate <= 1),
    profit_factor numeric(20,8) CHECK (profit_factor >= 0),
    realized_pnl  numeric(20,8),
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy_id, as_of)
);
COMMENT ON COLUMN strategy_engine.strategy_performance.max_drawdown IS
    'Largest fall from a peak as a positive fraction of the peak: 0.2 is -20 %.';

-- ---------------------------------------------------------------------------------------------
-- execution: trading tables are keyed (account_id, id) so they co-locate by account when
-- distributed. Child tables reference the pair.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS execution.orders (
    account_id         text          NOT NULL REFERENCES shared.accounts (account_id),
    id                 bigint        GENERATED ALWAYS AS IDENTITY,
    -- Ours, chosen before submission: a retried submission finds the order it already made.
    client_order_id    text          NOT NULL CHECK (btrim(client_order_id) <> ''),
    broker_order_id    text,
    symbol             text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    side               text          NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type         text          NOT NULL CHECK (order_type IN ('market', 'limit', 'stop', 'stop_limit')),
    time_in_force      text          NOT NULL DEFAULT 'day' CHECK (time_in_force IN ('day', 'gtc', 'ioc', 'fok')),
    quantity           numeric(28,8) NOT NULL CHECK (quantity > 0),
    limit_price        numeric(20,8) CHECK (limit_price > 0),
    stop_price         numeric(20,8) CHECK (stop_price > 0),
    status             text          NOT NULL DEFAULT 'pending'
                                     CHECK (status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel',
                                                       'filled', 'cancelled', 'rejected', 'expired')),
    filled_quantity    numeric(28,8) NOT NULL DEFAULT 0,
    average_fill_price numeric(20,8) CHECK (average_fill_price > 0),
    strategy_id        bigint        REFERENCES strategy_engine.strategies (id),
    signal_id          bigint        REFERENCES strategy_engine.strategy_signals (id),
    submitted_at       timestamptz,
    version            integer       NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT orders_client_order_id_key UNIQUE (account_id, client_order_id),
    CONSTRAINT orders_broker_order_id_key UNIQUE (account_id, broker_order_id),
    CONSTRAINT orders_limit_price_required
        CHECK ((order_type IN ('limit', 'stop_limit')) = (limit_price IS NOT NULL)),
    CONSTRAINT orders_stop_price_required
        CHECK ((order_type IN ('stop', 'stop_limit')) = (stop_price IS NOT NULL)),
    CONSTRAINT orders_filled_quantity_check
        CHECK (filled_quantity >= 0 AND filled_quantity <= quantity),
    CONSTRAINT orders_fill_price_required
        CHECK (filled_quantity = 0 OR average_fill_price IS NOT NULL),
    -- The status must agree with the fills, whatever path the update took.
    CONSTRAINT orders_status_fill_check CHECK (
        (status <> 'filled' OR filled_quantity = quantity)
        AND (status <> 'partially_filled' OR (filled_quantity > 0 AND filled_quantity < quantity))
        AND (status NOT IN ('pending', 'submitted') OR filled_quantity = 0)
        AND (status <> 'pending_cancel' OR filled_quantity < quantity))
);

-- Append-only history of every status change (enforced by a trigger below).
CREATE TABLE IF NOT EXISTS execution.order_events (
    account_id  text        NOT NULL,
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    order_id    bigint      NOT NULL,
    -- Null for the event that created the order.
    from_status text        CHECK (from_status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel',
                                                   'filled', 'cancelled', 'rejected', 'expired')),
    to_status   text        NOT NULL
                            CHECK (to_status IN ('pending', 'submitted', 'partially_filled', 'pending_cancel',
                                                 'filled', 'cancelled', 'rejected', 'expired')),
    reason      text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, order_id) REFERENCES execution.orders (account_id, id)
);

-- Fills. broker_fill_id makes recording a fill idempotent: a redelivered fill cannot move a
-- position twice.
CREATE TABLE IF NOT EXISTS execution.trades (
    account_id     text          NOT NULL,
    id             bigint        GENERATED ALWAYS AS IDENTITY,
    order_id       bigint        NOT NULL,
    broker_fill_id text          NOT NULL CHECK (btrim(broker_fill_id) <> ''),
    symbol         text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    side           text          NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity       numeric(28,8) NOT NULL CHECK (quantity > 0),
    price          numeric(20,8) NOT NULL CHECK (price > 0),
    fees           numeric(20,8) NOT NULL DEFAULT 0 CHECK (fees >= 0),
    -- What this fill realized on its position (after fees): daily P&L is a sum over trades.
    realized_pnl   numeric(20,8) NOT NULL DEFAULT 0,
    executed_at    timestamptz   NOT NULL,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT trades_broker_fill_id_key UNIQUE (account_id, broker_fill_id),
    FOREIGN KEY (account_id, order_id) REFERENCES execution.orders (account_id, id)
);

CREATE TABLE IF NOT EXISTS execution.positions (
    account_id   text          NOT NULL REFERENCES shared.accounts (account_id),
    symbol       text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    -- Signed: negative is short.
    quantity     numeric(28,8) NOT NULL DEFAULT 0,
    average_cost numeric(20,8) NOT NULL DEFAULT 0 CHECK (average_cost >= 0),
    realized_pnl numeric(20,8) NOT NULL DEFAULT 0,
    version      integer       NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, symbol)
);

CREATE TABLE IF NOT EXISTS execution.execution_logs (
    account_id text        NOT NULL REFERENCES shared.accounts (account_id),
    id         bigint      GENERATED ALWAYS AS IDENTITY,
    order_id   bigint,
    level      text        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error', 'fatal')),
    message    text        NOT NULL,
    details    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    logged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, order_id) REFERENCES execution.orders (account_id, id)
);

-- ---------------------------------------------------------------------------------------------
-- risk_management
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS risk_management.risk_limits (
    account_id  text          NOT NULL REFERENCES shared.accounts (account_id),
    id          bigint        GENERATED ALWAYS AS IDENTITY,
    scope       text          NOT NULL CHECK (scope IN ('account', 'strategy', 'symbol')),
    strategy_id bigint        REFERENCES strategy_engine.strategies (id),
    symbol      text          REFERENCES data_ingestion.symbols (symbol),
    limit_type  text          NOT NULL
                              CHECK (limit_type IN ('max_position_quantity', 'max_order_notional',
                                                    'max_gross_exposure', 'max_daily_loss', 'max_open_orders')),
    -- A magnitude in the unit of limit_type (quantity, base currency, count): a daily loss
    -- limit of 5000 stops trading at -5000.
    limit_value numeric(28,8) NOT NULL CHECK (limit_value > 0),
    enabled     boolean       NOT NULL DEFAULT true,
    version     integer       NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT risk_limits_scope_target_check CHECK (
        CASE scope
            WHEN 'account'  THEN strategy_id IS NULL AND symbol IS NULL
            WHEN 'strategy' THEN strategy_id IS NOT NULL AND symbol IS NULL
            WHEN 'symbol'   THEN symbol IS NOT NULL AND strategy_id IS NULL
        END),
    -- One limit of a type per target: two would leave which one applies to chance.
    CONSTRAINT risk_limits_target_key
        UNIQUE NULLS NOT DISTINCT (account_id, scope, strategy_id, symbol, limit_type)
);

-- Null means no limit on that side, 0 forbids it (0 short = no shorting).
CREATE TABLE IF NOT EXISTS risk_management.position_limits (
    account_id         text          NOT NULL REFERENCES shared.accounts (account_id),
    symbol             text          NOT NULL REFERENCES data_ingestion.symbols (symbol),
    max_long_quantity  numeric(28,8) CHECK (max_long_quantity >= 0),
    max_short_quantity numeric(28,8) CHECK (max_short_quantity >= 0),
    enabled            boolean       NOT NULL DEFAULT true,
    version            integer       NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, symbol),
    CONSTRAINT position_limits_some_limit_check
        CHECK (max_long_quantity IS NOT NULL OR max_short_quantity IS NOT NULL)
);
COMMENT ON COLUMN risk_management.position_limits.max_short_quantity IS
    'Largest short position as a positive quantity.';

CREATE TABLE IF NOT EXISTS risk_management.risk_events (
    account_id    text        NOT NULL REFERENCES shared.accounts (account_id),
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    risk_limit_id bigint,
    event_type    text        NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*$'),
    severity      text        NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    detail        text        NOT NULL,
    context       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
    order_id      bigint,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, risk_limit_id) REFERENCES risk_management.risk_limits (account_id, id),
    FOREIGN KEY (account_id, order_id) REFERENCES execution.orders (account_id, id)
);

-- ---------------------------------------------------------------------------------------------
-- analytics
-- ---------------------------------------------------------------------------------------------

-- Amounts in the account's base currency.
CREATE TABLE IF NOT EXISTS analytics.portfolio_summary (
    account_id     text          NOT NULL REFERENCES shared.accounts (account_id),
    as_of          timestamptz   NOT NULL,
    cash           numeric(20,8) NOT NULL,
    market_value   numeric(20,8) NOT NULL,
    equity         numeric(20,8) NOT NULL,
    gross_exposure numeric(20,8) NOT NULL CHECK (gross_exposure >= 0),
    net_exposure   numeric(20,8) NOT NULL,
    realized_pnl   numeric(20,8) NOT NULL DEFAULT 0,
    unrealized_pnl numeric(20,8) NOT NULL DEFAULT 0,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, as_of),
    CONSTRAINT portfolio_summary_exposure_check CHECK (abs(net_exposure) <= gross_exposure)
);

-- Same metric columns as strategy_engine.strategy_performance. strategy_id null = whole account.
CREATE TABLE IF NOT EXISTS analytics.performance_metrics (
    account_id    text          NOT NULL REFERENCES shared.accounts (account_id),
    id            bigint        GENERATED ALWAYS AS IDENTITY,
    strategy_id   bigint        REFERENCES strategy_engine.strategies (id),
    period        text          NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'inception')),
    period_start  date          NOT NULL,
    period_end    date          NOT NULL,
    returns       numeric(20,8),
    volatility    numeric(20,8) CHECK (volatility >= 0),
    sharpe        numeric(20,8),
    sortino       numeric(20,8),
    max_drawdown  numeric(20,8) CHECK (max_drawdown >= 0),
    trades        integer       NOT NULL DEFAULT 0 CHECK (trades >= 0),
    win_rate      numeric(9,8)  CHECK (win_rate >= 0 AND win_rate <= 1),
    profit_factor numeric(20,8) CHECK (profit_factor >= 0),
    realized_pnl  numeric(20,8),
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    CONSTRAINT performance_metrics_period_order_check CHECK (period_end >= period_start),
    CONSTRAINT performance_metrics_period_key
        UNIQUE NULLS NOT DISTINCT (account_id, strategy_id, period, period_start)
);

-- ---------------------------------------------------------------------------------------------
-- notification
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS notification.notification_configs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text        NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    channel          text        NOT NULL CHECK (channel IN ('webhook', 'email', 'log', 'redis')),
    -- Webhook URLs and addresses carry secrets, so only ciphertext is stored.
    target_encrypted bytea,
    -- Empty means every event type.
    event_types      text[]      NOT NULL DEFAULT '{}' CHECK (array_position(event_types, NULL) IS NULL),
    min_severity     text        NOT NULL DEFAULT 'warning'
                                 CHECK (min_severity IN ('info', 'warning', 'error', 'critical')),
    quiet_period     interval    NOT NULL DEFAULT '0' CHECK (quiet_period >= '0'),
    enabled          boolean     NOT NULL DEFAULT true,
    version          integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per delivery attempt: (config, event, attempt) keeps redelivered events from
-- notifying twice.
CREATE TABLE IF NOT EXISTS notification.notification_logs (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    config_id  bigint      NOT NULL REFERENCES notification.notification_configs (id),
    event_id   text        NOT NULL CHECK (btrim(event_id) <> ''),
    event_type text,
    status     text        NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempt    integer     NOT NULL DEFAULT 1 CHECK (attempt > 0),
    error      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_logs_attempt_key UNIQUE (config_id, event_id, attempt),
    CONSTRAINT notification_logs_sent_at_check CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

-- ---------------------------------------------------------------------------------------------
-- logging: high volume, monthly partitions so retention is a DROP
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS logging.system_logs (
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    logged_at      timestamptz NOT NULL DEFAULT now(),
    service        text        NOT NULL CHECK (btrim(service) <> ''),
    level          text        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error', 'fatal')),
    message        text        NOT NULL,
    context        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
    correlation_id text,
    PRIMARY KEY (id, logged_at)
) PARTITION BY RANGE (logged_at);
CREATE TABLE IF NOT EXISTS logging.system_logs_default PARTITION OF logging.system_logs DEFAULT;

CREATE TABLE IF NOT EXISTS logging.performance_logs (
    id             bigint        GENERATED ALWAYS AS IDENTITY,
    logged_at      timestamptz   NOT NULL DEFAULT now(),
    service        text          NOT NULL CHECK (btrim(service) <> ''),
    operation      text          NOT NULL CHECK (btrim(operation) <> ''),
    duration_ms    numeric(14,3) NOT NULL CHECK (duration_ms >= 0),
    rows           bigint        CHECK (rows >= 0),
    details        jsonb         NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    correlation_id text,
    PRIMARY KEY (id, logged_at)
) PARTITION BY RANGE (logged_at);
CREATE TABLE IF NOT EXISTS logging.performance_logs_default PARTITION OF logging.performance_logs DEFAULT;

-- ---------------------------------------------------------------------------------------------
-- Triggers (row triggers on a partitioned table reach every partition, present and future)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON shared.system_config
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON shared.accounts
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.symbols
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.delisted_symbols
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.ingestion_runs
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.symbol_data_status
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.market_data
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.company_info
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.key_statistics
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON data_ingestion.institutional_holders
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON strategy_engine.strategies
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON strategy_engine.strategy_performance
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON execution.orders
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON execution.positions
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON risk_management.risk_limits
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON risk_management.position_limits
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON analytics.portfolio_summary
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON analytics.performance_metrics
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON notification.notification_configs
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();
CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON notification.notification_logs
    FOR EACH ROW EXECUTE FUNCTION shared.touch_updated_at();

CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON execution.order_events
    FOR EACH ROW EXECUTE FUNCTION shared.forbid_update_delete();
CREATE OR REPLACE TRIGGER append_only BEFORE UPDATE OR DELETE ON shared.audit_log
    FOR EACH ROW EXECUTE FUNCTION shared.forbid_update_delete();

-- The pre-trade check runs in the order's transaction as execution_user, which may only read
-- risk_management; a breach is recorded through this definer-rights function, for the account
-- the transaction acts for and no other.
CREATE OR REPLACE FUNCTION risk_management.record_risk_event(
    event_account text, event_limit_id bigint, event_type text, event_severity text, event_detail text,
    event_context jsonb, event_order_id bigint)
    RETURNS bigint
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    IF event_account IS DISTINCT FROM current_setting('tradedb.account_id', true) THEN
        RAISE EXCEPTION 'a risk event for account % may only be recorded by a transaction acting for it', event_account
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO risk_management.risk_events (account_id, risk_limit_id, event_type, severity, detail, context, order_id)
    VALUES (event_account, event_limit_id, event_type, event_severity, event_detail, coalesce(event_context, '{}'), event_order_id)
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security on account-owned tables: a service role sees and changes only the rows of
-- the account its transaction names in the setting tradedb.account_id
-- (set_config('tradedb.account_id', 'paper-main', true)); with none set it sees nothing. Service
-- roles have no BYPASSRLS; the owner (setup, maintenance) is not subject to the policies.
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE
    account_table regclass;
BEGIN
    FOREACH account_table IN ARRAY ARRAY[
        'shared.accounts', 'execution.orders', 'execution.order_events', 'execution.trades',
        'execution.positions', 'execution.execution_logs', 'risk_management.risk_limits',
        'risk_management.position_limits', 'risk_management.risk_events',
        'analytics.portfolio_summary', 'analytics.performance_metrics']::regclass[]
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', account_table);
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = account_table AND polname = 'account_isolation') THEN
            EXECUTE format($policy$CREATE POLICY account_isolation ON %s
                USING (account_id = current_setting('tradedb.account_id', true))
                WITH CHECK (account_id = current_setting('tradedb.account_id', true))$policy$, account_table);
        END IF;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Monthly partitions: last month through three months ahead (UTC). `tradedb setup` runs the
-- same include on every run; the maintenance flow keeps creating months ahead, and the default
-- partitions catch anything outside them.
-- ---------------------------------------------------------------------------------------------

\ir include/ensure-partitions.sql

-- ---------------------------------------------------------------------------------------------
-- Grants: least privilege. Each service writes only its own schema, reads the schemas it
-- depends on, and reads shared. trading_readonly reads everything. Nobody writes shared but
-- the owner. The same matrix feeds ALTER DEFAULT PRIVILEGES, so tables that later migrations
-- add (as the owner) get the same grants. Only objects the owner owns are granted on: the
-- extensions' objects in shared keep their own privileges.
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE
    owner_role name := current_user;
    grant_row  record;
    object_row record;
BEGIN
    FOR grant_row IN
        SELECT grantee, schema_name, access
          FROM (VALUES
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
                ('trading_readonly',     'shared',          'read')
               ) AS matrix (grantee, schema_name, access)
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', grant_row.schema_name, grant_row.grantee);

        FOR object_row IN
            SELECT c.oid::regclass AS relation, c.relkind
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = grant_row.schema_name
               AND pg_catalog.pg_get_userbyid(c.relowner) = owner_role
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             ORDER BY c.oid
        LOOP
            IF object_row.relkind = 'S' THEN
                IF grant_row.access = 'write' THEN
                    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I',
                                   object_row.relation, grant_row.grantee);
                END IF;
            ELSIF grant_row.access = 'write' THEN
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %I',
                               object_row.relation, grant_row.grantee);
            ELSE
                EXECUTE format('GRANT SELECT ON TABLE %s TO %I', object_row.relation, grant_row.grantee);
            END IF;
        END LOOP;

        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT %s ON TABLES TO %I',
                       owner_role, grant_row.schema_name,
                       CASE grant_row.access WHEN 'write' THEN 'SELECT, INSERT, UPDATE, DELETE' ELSE 'SELECT' END,
                       grant_row.grantee);
        IF grant_row.access = 'write' THEN
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I',
                           owner_role, grant_row.schema_name, grant_row.grantee);
        END IF;

        -- Functions: a service may call its own schema's and shared's (not trading_readonly).
        IF grant_row.access = 'write'
           OR (grant_row.schema_name = 'shared' AND grant_row.grantee <> 'trading_readonly') THEN
            FOR object_row IN
                SELECT p.oid::regprocedure AS routine
                  FROM pg_catalog.pg_proc p
                  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = grant_row.schema_name
                   AND pg_catalog.pg_get_userbyid(p.proowner) = owner_role
                   AND p.prokind IN ('f', 'p')
                 ORDER BY p.oid
            LOOP
                EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', object_row.routine, grant_row.grantee);
            END LOOP;
            EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT EXECUTE ON ROUTINES TO %I',
                           owner_role, grant_row.schema_name, grant_row.grantee);
        END IF;
    END LOOP;

    -- Functions are executable by PUBLIC by default: take that back, now and for later ones.
    FOR object_row IN
        SELECT p.oid::regprocedure AS routine
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('data_ingestion', 'strategy_engine', 'execution', 'risk_management',
                             'analytics', 'notification', 'logging', 'shared')
           AND pg_catalog.pg_get_userbyid(p.proowner) = owner_role
         ORDER BY p.oid
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', object_row.routine);
    END LOOP;
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE EXECUTE ON ROUTINES FROM PUBLIC', owner_role);

    -- Beyond the matrix: the order's transaction records its own risk breaches.
    GRANT EXECUTE ON FUNCTION risk_management.record_risk_event(text, bigint, text, text, text, jsonb, bigint) TO execution_user;
END
$$;

RESET ROLE;
RESET client_min_messages;
