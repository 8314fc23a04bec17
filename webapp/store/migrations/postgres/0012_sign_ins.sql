-- What a sign-in to a server gave (OAuth tokens, the client registration): one sealed text per server, shared by
-- the web and worker processes (issue 20).
CREATE TABLE sign_ins (
    server TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
