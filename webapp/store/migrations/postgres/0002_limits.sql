-- Limits on what a server may send: the size of data that was cut, and events counted beyond the limit.
ALTER TABLE events ADD COLUMN data_bytes BIGINT;
ALTER TABLE jobs ADD COLUMN dropped_events BIGINT NOT NULL DEFAULT 0;
