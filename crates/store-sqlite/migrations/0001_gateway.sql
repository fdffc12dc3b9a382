-- sedgate gateway schema v2 for SQLite: declared types that sqlx reads as typed values
-- (DATETIME as UTC timestamps, BOOLEAN, JSON text for lists and documents), states
-- constrained by CHECK. The hot path writes few rows: a message row carries
-- its parts, its history, its outbox state and its receipt.

-- Institution repository.
CREATE TABLE institutions (
    id          TEXT PRIMARY KEY,
    country     TEXT NOT NULL,
    acronym     TEXT,
    valid_from  DATETIME,
    valid_to    DATETIME,
    eessi_ready BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  DATETIME NOT NULL
);
CREATE INDEX institutions_country ON institutions (country);

CREATE TABLE institution_names (
    institution_id TEXT NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    lang           TEXT NOT NULL,
    name           TEXT NOT NULL,
    PRIMARY KEY (institution_id, lang)
);

CREATE TABLE competences (
    institution_id TEXT NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    buc            TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('CaseOwner', 'CounterParty')),
    valid_from     DATETIME,
    valid_to       DATETIME,
    eessi_ready    BOOLEAN NOT NULL,
    PRIMARY KEY (institution_id, buc, role)
);
CREATE INDEX competences_buc ON competences (buc);

CREATE TABLE access_points (
    country           TEXT PRIMARY KEY,
    endpoint_url      TEXT NOT NULL,
    cert_fingerprints TEXT NOT NULL CHECK (json_valid(cert_fingerprints)),
    updated_at        DATETIME NOT NULL
);

CREATE TABLE ir_imports (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    source    TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('institutions', 'access_points')),
    at        DATETIME NOT NULL,
    added     BIGINT NOT NULL,
    updated   BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected  BIGINT NOT NULL
);

-- Back-office API clients (only the SHA-256 of a token is stored).
CREATE TABLE api_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL UNIQUE,
    institutions TEXT NOT NULL CHECK (json_valid(institutions)),
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE
);

-- Operator console accounts (argon2id) and sessions (SHA-256 of the cookie).
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    DATETIME NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE operator_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- The processes sharing this database: one row per start (incarnation) of a node. A live
-- incarnation heartbeats; outbox claims name the incarnation that holds them, so the claims
-- of one that stopped heartbeating are free again. The heartbeat also persists the head of
-- the incarnation's audit chain.
CREATE TABLE nodes (
    incarnation  TEXT PRIMARY KEY,
    node         TEXT NOT NULL,
    started_at   DATETIME NOT NULL,
    heartbeat_at DATETIME NOT NULL,
    stopped      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX nodes_node ON nodes (node);

-- Payloads by SHA-256: small ones inline, large ones (content NULL) as a file of the
-- data directory's blob store under their hash, written to a temporary file while they
-- stream and renamed into place by the commit that stores this row.
CREATE TABLE payloads (
    hash       TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    content    BLOB,
    created_at DATETIME NOT NULL
);

-- Every SED sent or received. One row carries the message, its parts (JSON), its history
-- (JSON), its outbox state (out), its inbox state (in) and its receipt.
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    peer_country    TEXT NOT NULL,
    case_id         TEXT NOT NULL,
    buc             TEXT NOT NULL,
    sed_type        TEXT NOT NULL,
    cdm_version     TEXT NOT NULL,
    sender          TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('accepted', 'sending', 'delivered', 'failed',
                                                   'dead_lettered', 'received', 'acknowledged')),
    sed_hash        TEXT NOT NULL,
    parts           TEXT NOT NULL CHECK (json_valid(parts)),
    history         TEXT NOT NULL CHECK (json_valid(history)),
    client_id       TEXT,
    submission_id   TEXT,
    idempotency_key TEXT,
    request_hash    TEXT,
    response_status INTEGER,
    response        TEXT,
    error_code      TEXT,
    error_detail    TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME,
    claimed_by      TEXT,
    dead            BOOLEAN NOT NULL DEFAULT FALSE,
    receipt         BLOB,
    delivered_at    DATETIME,
    acked_at        DATETIME,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    UNIQUE (id, direction, peer_country)
);
CREATE UNIQUE INDEX messages_idempotency ON messages (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_outbox ON messages (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND dead = 0;
CREATE INDEX messages_dead ON messages (updated_at) WHERE dead = 1;
CREATE INDEX messages_inbox ON messages (receiver, seq) WHERE direction = 'in';
CREATE INDEX messages_case ON messages (case_id, seq);
CREATE INDEX messages_state ON messages (state);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_updated ON messages (updated_at);

-- WS-Security evidence: the exact signed bytes of a message and its receipt.
CREATE TABLE evidence (
    message_id   TEXT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    peer_country TEXT NOT NULL,
    envelope     BLOB NOT NULL,
    refs         TEXT NOT NULL CHECK (json_valid(refs)),
    receipt      BLOB,
    peer_cert    BLOB,
    verification TEXT NOT NULL,
    at           DATETIME NOT NULL,
    PRIMARY KEY (message_id, direction, peer_country)
);

-- Hash-chained audit log, one chain per incarnation (no row every node must lock): the
-- chain's head lives in memory and is persisted in audit_chains by heartbeats and at stop.
CREATE TABLE audit (
    chain     TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    at        DATETIME NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_at ON audit (at);
CREATE TABLE audit_chains (
    chain      TEXT PRIMARY KEY,
    node       TEXT NOT NULL,
    started_at DATETIME NOT NULL,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL
);
