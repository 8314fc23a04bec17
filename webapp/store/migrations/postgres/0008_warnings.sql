-- The jobs list: how many of a job's log lines are at warning or worse, counted by its worker as they come.
ALTER TABLE jobs ADD COLUMN warnings BIGINT NOT NULL DEFAULT 0;
