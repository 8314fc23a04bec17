-- Random secrets the dashboard's processes share (the key that signs browser sessions), made on first use.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
