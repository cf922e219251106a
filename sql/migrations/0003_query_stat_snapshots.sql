-- tradedb migration 0003: snapshots of pg_stat_statements' top queries, taken by the nightly
-- maintenance (tradedb maintenance), so slow queries can be followed over time after the
-- server's own counters are reset. The owner role, which runs maintenance, may read every
-- session's statistics (pg_read_all_stats), not only its own.
\ir ../include/defaults.sql
SET client_min_messages = warning;

SELECT format('GRANT pg_read_all_stats TO %I', :'trading_db_user')
\gexec

SET ROLE :"trading_db_user";

CREATE TABLE IF NOT EXISTS logging.query_stat_snapshots (
    taken_at         timestamptz   NOT NULL,
    rank             integer       NOT NULL CHECK (rank > 0),
    queryid          bigint,
    role_name        text,
    query            text          NOT NULL,
    calls            bigint        NOT NULL CHECK (calls >= 0),
    total_exec_ms    numeric(18,3) NOT NULL,
    mean_exec_ms     numeric(18,3) NOT NULL,
    rows             bigint        NOT NULL,
    shared_blks_hit  bigint        NOT NULL,
    shared_blks_read bigint        NOT NULL,
    PRIMARY KEY (taken_at, rank)
);

RESET ROLE;
RESET client_min_messages;
