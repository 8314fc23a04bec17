-- Lines a server sends outside any job (heard on a session of its own), numbered per server.
CREATE TABLE server_events (
    server TEXT NOT NULL,
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
    data_bytes INTEGER,
    method TEXT,
    PRIMARY KEY (server, seq)
) WITHOUT ROWID;
CREATE INDEX server_events_by_age ON server_events (received_at);
