-- The least severe log level a job asked of its server.
ALTER TABLE jobs ADD COLUMN log_level TEXT NOT NULL DEFAULT 'debug';
