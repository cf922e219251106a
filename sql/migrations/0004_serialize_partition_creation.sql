-- tradedb migration 0004: concurrent loaders creating the same month's partition could deadlock.
-- ensure_market_data_partitions moved the month's rows out of the default partition before taking
-- the lock that serializes partition creation (inside shared.create_monthly_partitions): one loader
-- held rows of the default partition while waiting for that lock, the other held the lock while
-- waiting for the default partition. Now the lock comes first, and only when a month is missing.
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

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
    IF NOT EXISTS (SELECT FROM unnest(coalesce(months, '{}')) AS m (month)
                    WHERE m.month IS NOT NULL
                      AND to_regclass(format('data_ingestion.market_data_p%s', to_char(date_trunc('month', m.month), 'YYYYMM'))) IS NULL) THEN
        RETURN 0;
    END IF;
    -- The same lock shared.create_monthly_partitions takes for this table, before any table is touched.
    PERFORM pg_advisory_xact_lock(hashtext('shared.create_monthly_partitions'), hashtext('data_ingestion.market_data'::regclass::text));
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

RESET ROLE;
RESET client_min_messages;
