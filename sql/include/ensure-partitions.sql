-- Monthly partitions of the time-partitioned tables (the log tables are partitioned by day since
-- migration 0006: include/ensure-log-partitions.sql): last month through three months ahead, in
-- UTC. Creates only the missing ones (shared.create_monthly_partitions gives them the parent's
-- owner and grants), so it is safe to run at any time: 02 runs it once, and
-- `tradedb setup` runs it on every run so that a database set up long ago has this month's
-- partition even before its first maintenance run.
SELECT coalesce(sum(shared.create_monthly_partitions(
           parent, (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date, 5)), 0)
           AS partitions_created
  FROM (VALUES ('shared.audit_log'::regclass),
               ('data_ingestion.market_data'::regclass)) AS partitioned (parent);
