-- Operator console: operator accounts (argon2 password hashes) and their sessions.
-- Sessions are found by the SHA-256 of the cookie value; the CSRF token is bound to the session.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE operator_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX message_events_state_at ON message_events (state, at);
