-- tradedb migration 0006: the log tables are partitioned by day.
--
-- logging.system_logs and logging.performance_logs take every service's log lines; a day per
-- partition keeps each one small and lets retention drop exactly the days that expired. The
-- monthly partitions that cover the current month or later are converted (their rows moved into
-- day partitions); older monthly ones stay until retention drops them. From now on `tradedb setup`
-- and the maintenance flow keep days ahead (sql/include/ensure-log-partitions.sql).
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"trading_db_user";

CREATE OR REPLACE FUNCTION shared.create_daily_partitions(parent regclass, first_day date, days integer)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parent_schema     name;
    parent_table      name;
    parent_owner      name;
    key_column        name;
    default_partition regclass;
    day               date;
    partition_name    text;
    bound_from        text;
    bound_to          text;
    grant_row         record;
    created           integer := 0;
BEGIN
    IF days IS NULL OR days < 0 THEN
        RAISE EXCEPTION 'days must be zero or more, got %', days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF first_day IS NULL THEN
        RAISE EXCEPTION 'first_day must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), a.attname, nullif(p.partdefid, 0)::regclass
      INTO parent_schema, parent_table, parent_owner, key_column, default_partition
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_partitioned_table p ON p.partrelid = c.oid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
     WHERE c.oid = parent
       AND p.partstrat = 'r'
       AND p.partnatts = 1
       AND a.atttypid = 'timestamp with time zone'::regtype;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a table partitioned by range on one timestamptz column', parent
            USING ERRCODE = 'wrong_object_type';
    END IF;

    -- Setup and the maintenance flow may run at once; they must not race to create one day.
    PERFORM pg_advisory_xact_lock(hashtext('shared.create_daily_partitions'), hashtext(parent::text));

    FOR i IN 0 .. days - 1 LOOP
        day := first_day + i;
        partition_name := format('%s_p%s', parent_table, to_char(day, 'YYYYMMDD'));
        IF octet_length(partition_name) > 63 THEN
            RAISE EXCEPTION 'partition name % is longer than 63 bytes', partition_name USING ERRCODE = 'name_too_long';
        END IF;
        CONTINUE WHEN to_regclass(format('%I.%I', parent_schema, partition_name)) IS NOT NULL;

        -- Day boundaries are UTC midnights whatever the session's TimeZone is.
        bound_from := to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00';
        bound_to := to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
        -- Built beside the table and attached, so that the day's rows that went to the default
        -- partition (no day partition existed yet: maintenance had not run) move into it instead
        -- of making the creation fail.
        EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                       parent_schema, partition_name, parent_schema, parent_table);
        IF default_partition IS NOT NULL THEN
            EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING *) INSERT INTO %I.%I SELECT * FROM moved',
                           default_partition, key_column, bound_from, key_column, bound_to, parent_schema, partition_name);
        END IF;
        EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                       parent_schema, parent_table, parent_schema, partition_name, bound_from, bound_to);
        -- A superuser's maintenance run must not leave partitions the owner cannot drop.
        IF current_user <> parent_owner THEN
            EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', parent_schema, partition_name, parent_owner);
        END IF;
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

COMMENT ON FUNCTION shared.create_daily_partitions(regclass, date, integer) IS
    'Creates the missing daily partitions <table>_pYYYYMMDD of a table range-partitioned on a '
    'timestamptz column for `days` days from first_day (UTC midnights), with the parent''s owner and '
    'grants, moving that day''s rows out of the default partition; returns how many it created.';

REVOKE EXECUTE ON FUNCTION shared.create_daily_partitions(regclass, date, integer) FROM PUBLIC;

-- The monthly log partitions of this month and later become day partitions: detached, the days
-- they covered created (through eight days ahead), their rows put back through the parent.
DO $$
DECLARE
    first_day  date := date_trunc('month', (now() AT TIME ZONE 'UTC')::date - 1)::date;
    last_day   date := (now() AT TIME ZONE 'UTC')::date + 8;
    log_table  regclass;
    monthly    regclass;
    detached   regclass[];
BEGIN
    FOREACH log_table IN ARRAY ARRAY['logging.system_logs', 'logging.performance_logs']::regclass[] LOOP
        SELECT coalesce(array_agg(c.oid::regclass), '{}') INTO detached
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = log_table
           AND c.relname ~ '_p[0-9]{6}$'
           AND substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz > first_day;
        FOREACH monthly IN ARRAY detached LOOP
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', log_table, monthly);
        END LOOP;
        PERFORM shared.create_daily_partitions(log_table, first_day, last_day - first_day + 1);
        FOREACH monthly IN ARRAY detached LOOP
            EXECUTE format('INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM %s', log_table, monthly);
            EXECUTE format('DROP TABLE %s', monthly);
        END LOOP;
    END LOOP;
END
$$;
