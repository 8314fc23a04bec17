-- Jobs wait in a queue for a worker; each worker holds a lease it renews.
ALTER TABLE jobs ADD COLUMN worker TEXT;
ALTER TABLE jobs ADD COLUMN cancel_requested_at REAL;
CREATE INDEX jobs_queued ON jobs (created_at) WHERE state = 'queued';
CREATE INDEX jobs_by_worker ON jobs (worker) WHERE state IN ('starting', 'running');
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    lease_until REAL NOT NULL
);
