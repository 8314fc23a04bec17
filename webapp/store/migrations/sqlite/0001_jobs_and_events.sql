-- The first schema, as the first release created it (IF NOT EXISTS: files of that release are migrated).
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    progress REAL,
    total REAL,
    message TEXT,
    result TEXT,
    error TEXT,
    idle_timeout REAL,
    max_duration REAL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (created_at DESC);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    received_at REAL NOT NULL,
    level TEXT,
    logger TEXT,
    data TEXT,
    progress REAL,
    total REAL,
    message TEXT,
    note TEXT,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
