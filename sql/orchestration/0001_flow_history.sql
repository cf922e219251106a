-- tradedb orchestration 0001: the run history of scheduled flows, the backups catalogue and the
-- workers' heartbeats, in the orchestration database (graphile-worker keeps its job queue there
-- too, in its own schema graphile_worker, which the worker installs). graphile-worker deletes a
-- job once it has succeeded; these rows stay.
--
-- psql users run it in the orchestration database, after 01:
--   psql -v ON_ERROR_STOP=1 -d orchestration -f sql/orchestration/0001_flow_history.sql
\ir ../include/defaults.sql
SET client_min_messages = warning;
SET ROLE :"orchestration_db_user";

CREATE SCHEMA IF NOT EXISTS orchestration;

-- One row per run of a flow: by its schedule (the cron time it is for), by hand, or caught up after
-- downtime. A run is one graphile-worker job; each try of it is an attempt below.
CREATE TABLE IF NOT EXISTS orchestration.flow_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow_name      text NOT NULL,
    parameters     jsonb NOT NULL DEFAULT '{}',
    trigger        text NOT NULL CHECK (trigger IN ('schedule', 'backfill', 'manual')),
    -- The cron time a scheduled run is for; unique per flow, so a schedule fires a run once.
    scheduled_for  timestamptz,
    state          text NOT NULL DEFAULT 'scheduled'
                   CHECK (state IN ('scheduled', 'running', 'completed', 'failed', 'retrying', 'cancelled')),
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   integer NOT NULL CHECK (max_attempts > 0),
    job_id         bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    ended_at       timestamptz,
    duration_ms    bigint,
    result         jsonb,
    error          text,
    correlation_id uuid NOT NULL DEFAULT gen_random_uuid(),
    UNIQUE (flow_name, scheduled_for)
);
CREATE INDEX IF NOT EXISTS idx_flow_runs_flow_name_created_at ON orchestration.flow_runs (flow_name, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_flow_runs_state ON orchestration.flow_runs (state) WHERE state IN ('scheduled', 'running', 'retrying');

-- Every try of a flow run, the failed ones included (a worker killed mid-run leaves its attempt
-- running until another worker sees its heartbeat stop and marks it failed).
CREATE TABLE IF NOT EXISTS orchestration.flow_run_attempts (
    flow_run_id bigint NOT NULL REFERENCES orchestration.flow_runs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL CHECK (attempt > 0),
    worker_id   text NOT NULL,
    state       text NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    error       text,
    PRIMARY KEY (flow_run_id, attempt)
);

-- The tasks of a run (one per symbol for ingestion, ...), per attempt: one task failing does not
-- fail the others.
CREATE TABLE IF NOT EXISTS orchestration.task_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow_run_id bigint NOT NULL REFERENCES orchestration.flow_runs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL CHECK (attempt > 0),
    task_name   text NOT NULL,
    parameters  jsonb NOT NULL DEFAULT '{}',
    state       text NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    duration_ms bigint,
    result      jsonb,
    error       text
);
CREATE INDEX IF NOT EXISTS idx_task_runs_flow_run_id ON orchestration.task_runs (flow_run_id, attempt);

-- Live workers, one row per graphile-worker worker id (a process runs as many as its
-- concurrency): each process renews its rows' heartbeat every few seconds. One whose heartbeat
-- stopped has died (kill -9, a lost host): its jobs are unlocked for the others.
CREATE TABLE IF NOT EXISTS orchestration.workers (
    worker_id    text PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- One row per backup file `tradedb backup` wrote; the manifest beside the file says the same.
CREATE TABLE IF NOT EXISTS orchestration.backups (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file            text NOT NULL UNIQUE,
    database_name   text NOT NULL,
    schemas         text[] NOT NULL,
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    total_rows      bigint NOT NULL CHECK (total_rows >= 0),
    server_version  text NOT NULL,
    tool_version    text NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     bigint NOT NULL,
    flow_run_id     bigint REFERENCES orchestration.flow_runs (id) ON DELETE SET NULL,
    verified_at     timestamptz,
    verification    text,
    pruned_at       timestamptz
);
CREATE INDEX IF NOT EXISTS idx_backups_started_at ON orchestration.backups (started_at DESC);

RESET ROLE;
RESET client_min_messages;
