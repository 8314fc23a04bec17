-- Jobs, their events, the queue and worker leases; shared by every web and worker process.
-- Times are seconds since the epoch (double precision), as in the SQLite store, except the leases: those
-- run on the database's own clock, which every host shares.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    progress DOUBLE PRECISION,
    total DOUBLE PRECISION,
    message TEXT,
    result TEXT,
    error TEXT,
    idle_timeout DOUBLE PRECISION,
    max_duration DOUBLE PRECISION,
    last_seq BIGINT NOT NULL DEFAULT 0,
    worker TEXT,
    cancel_requested_at DOUBLE PRECISION
);
CREATE INDEX jobs_by_age ON jobs (created_at DESC);
CREATE INDEX jobs_queued ON jobs (created_at) WHERE state = 'queued';
CREATE INDEX jobs_by_worker ON jobs (worker) WHERE state IN ('starting', 'running');

CREATE TABLE events (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    level TEXT,
    logger TEXT,
    data TEXT,
    progress DOUBLE PRECISION,
    total DOUBLE PRECISION,
    message TEXT,
    note TEXT,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
