-- Lines a server sends outside any job (heard on a session of its own), numbered per server.
CREATE TABLE server_events (
    server TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    level TEXT,
    logger TEXT,
    data TEXT,
    progress DOUBLE PRECISION,
    total DOUBLE PRECISION,
    message TEXT,
    note TEXT,
    data_bytes BIGINT,
    method TEXT,
    PRIMARY KEY (server, seq)
);
CREATE INDEX server_events_by_age ON server_events (received_at);
