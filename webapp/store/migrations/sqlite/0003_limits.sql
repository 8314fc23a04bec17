-- Limits on what a server may send: the size of data that was cut, and events counted beyond the limit.
ALTER TABLE events ADD COLUMN data_bytes INTEGER;
ALTER TABLE jobs ADD COLUMN dropped_events INTEGER NOT NULL DEFAULT 0;
