-- Linger: a job's connection may stay open after its call, for what the server sends late.
ALTER TABLE jobs ADD COLUMN linger DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lingering_until DOUBLE PRECISION;
