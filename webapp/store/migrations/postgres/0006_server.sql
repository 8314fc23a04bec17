-- Several servers: the name of the configured server a job runs on.
ALTER TABLE jobs ADD COLUMN server TEXT;
