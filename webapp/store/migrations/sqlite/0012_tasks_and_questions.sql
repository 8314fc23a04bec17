-- MCP Tasks and questions (issue 16): whether a job asked to run as a task, the task it runs as (JSON: what it
-- takes to find it again after a restart), and the server's questions for a person (JSON, written by the job's
-- worker like its other fields). Answers are written by whichever web process a person answered through: a table
-- of their own, so the job's row keeps one writer; the first answer to a question wins (its key).
ALTER TABLE jobs ADD COLUMN as_task INTEGER;
ALTER TABLE jobs ADD COLUMN task TEXT;
ALTER TABLE jobs ADD COLUMN questions TEXT;
CREATE TABLE answers (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    action TEXT NOT NULL,
    content TEXT,
    answered_at REAL NOT NULL,
    by TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);
-- A job waiting for an answer is as active as a running one; a task job whose worker is gone waits to be
-- re-attached by any worker.
DROP INDEX jobs_by_worker;
CREATE INDEX jobs_by_worker ON jobs (worker) WHERE state IN ('starting', 'running', 'input_required');
CREATE INDEX jobs_to_reattach ON jobs (created_at)
    WHERE worker IS NULL AND task IS NOT NULL AND state IN ('starting', 'running', 'input_required');
