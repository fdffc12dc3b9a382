-- sedgate gateway schema v2 for PostgreSQL: native types (timestamptz, boolean, arrays,
-- jsonb), states constrained by CHECK. The hot path writes few rows: a message row carries
-- its parts, its history, its outbox state and its receipt.

-- Institution repository.
CREATE TABLE institutions (
    id          TEXT PRIMARY KEY,
    country     TEXT NOT NULL,
    acronym     TEXT,
    valid_from  TIMESTAMPTZ,
    valid_to    TIMESTAMPTZ,
    eessi_ready BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL
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
    valid_from     TIMESTAMPTZ,
    valid_to       TIMESTAMPTZ,
    eessi_ready    BOOLEAN NOT NULL,
    PRIMARY KEY (institution_id, buc, role)
);
CREATE INDEX competences_buc ON competences (buc);

CREATE TABLE access_points (
    country           TEXT PRIMARY KEY,
    endpoint_url      TEXT NOT NULL,
    cert_fingerprints TEXT[] NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE ir_imports (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source    TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('institutions', 'access_points')),
    at        TIMESTAMPTZ NOT NULL,
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
    institutions TEXT[] NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked      BOOLEAN NOT NULL DEFAULT FALSE
);

-- Operator console accounts (argon2id) and sessions (SHA-256 of the cookie).
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE operator_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- The processes sharing this database: one row per start (incarnation) of a node. A live
-- incarnation heartbeats; outbox claims name the incarnation that holds them, so the claims
-- of one that stopped heartbeating are free again. The heartbeat also persists the head of
-- the incarnation's audit chain.
CREATE TABLE nodes (
    incarnation  TEXT PRIMARY KEY,
    node         TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    stopped      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX nodes_node ON nodes (node);

-- Payloads by SHA-256: small ones inline, large ones as chunks written while they stream
-- (under an upload id) and promoted by the commit that stores the payload row.
CREATE TABLE payloads (
    hash       TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    content    BYTEA,
    upload_id  TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((content IS NULL) <> (upload_id IS NULL))
);
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    incarnation TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE upload_chunks (
    upload_id TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    data      BYTEA NOT NULL,
    PRIMARY KEY (upload_id, idx)
);

-- Every SED sent or received. One row carries the message, its parts (JSON), its history
-- (JSON), its outbox state (out), its inbox state (in) and its receipt.
CREATE TABLE messages (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    parts           JSONB NOT NULL,
    history         JSONB NOT NULL,
    client_id       TEXT,
    submission_id   TEXT,
    idempotency_key TEXT,
    request_hash    TEXT,
    response_status INTEGER,
    response        TEXT,
    error_code      TEXT,
    error_detail    TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    claimed_by      TEXT,
    dead            BOOLEAN NOT NULL DEFAULT FALSE,
    receipt         BYTEA,
    delivered_at    TIMESTAMPTZ,
    acked_at        TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (id, direction, peer_country)
);
CREATE UNIQUE INDEX messages_idempotency ON messages (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_outbox ON messages (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND NOT dead;
CREATE INDEX messages_dead ON messages (updated_at) WHERE dead;
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
    envelope     BYTEA NOT NULL,
    refs         JSONB NOT NULL,
    receipt      BYTEA,
    peer_cert    BYTEA,
    verification TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, direction, peer_country)
);

-- Hash-chained audit log, one chain per incarnation (no row every node must lock): the
-- chain's head lives in memory and is persisted in audit_chains by heartbeats and at stop.
CREATE TABLE audit (
    chain     TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
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
    started_at TIMESTAMPTZ NOT NULL,
    seq        BIGINT NOT NULL,
    hash       TEXT NOT NULL
);
