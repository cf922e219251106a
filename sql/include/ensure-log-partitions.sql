-- Daily partitions of the log tables: yesterday through eight days ahead, in UTC. Creates only
-- the missing ones (shared.create_daily_partitions, migration 0006), so it is safe to run at any
-- time: `tradedb setup` runs it on every run after the migrations, and the maintenance flow keeps
-- days ahead the same way.
SELECT coalesce(sum(shared.create_daily_partitions(parent, (now() AT TIME ZONE 'UTC')::date - 1, 10)), 0)
           AS log_partitions_created
  FROM (VALUES ('logging.system_logs'::regclass),
               ('logging.performance_logs'::regclass)) AS partitioned (parent);
