-- sedgate schema, first cut. Times are Unix milliseconds (UTC); booleans are 0/1.
CREATE TABLE institutions (
    id          TEXT PRIMARY KEY,
    country     TEXT NOT NULL,
    acronym     TEXT,
    valid_from  BIGINT,
    valid_to    BIGINT,
    eessi_ready BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
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
    role           TEXT NOT NULL,
    valid_from     BIGINT,
    valid_to       BIGINT,
    eessi_ready    BIGINT NOT NULL,
    PRIMARY KEY (institution_id, buc, role)
);
CREATE INDEX competences_buc ON competences (buc);

CREATE TABLE access_points (
    country           TEXT PRIMARY KEY,
    endpoint_url      TEXT NOT NULL,
    cert_fingerprints TEXT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE ir_imports (
    id        BIGSERIAL PRIMARY KEY,
    source    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    at        BIGINT NOT NULL,
    added     BIGINT NOT NULL,
    updated   BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected  BIGINT NOT NULL
);

CREATE TABLE api_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL UNIQUE,
    institutions TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked      BIGINT NOT NULL DEFAULT 0
);

-- Content-addressed payloads: small ones inline, large ones in the blob directory.
CREATE TABLE payloads (
    hash       TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    location   TEXT NOT NULL,
    content    BYTEA,
    created_at BIGINT NOT NULL
);

CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    direction     TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    buc           TEXT NOT NULL,
    sed_type      TEXT NOT NULL,
    cdm_version   TEXT NOT NULL,
    sender        TEXT NOT NULL,
    receiver      TEXT NOT NULL,
    peer_country  TEXT NOT NULL,
    state         TEXT NOT NULL,
    sed_hash      TEXT NOT NULL,
    client_id     TEXT,
    submission_id TEXT,
    error_code    TEXT,
    error_detail  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX messages_case ON messages (case_id, created_at);
CREATE INDEX messages_state ON messages (state);

CREATE TABLE message_parts (
    message_id   TEXT NOT NULL REFERENCES messages (id),
    idx          BIGINT NOT NULL,
    part_type    TEXT NOT NULL,
    content_id   TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    filename     TEXT,
    payload_hash TEXT NOT NULL REFERENCES payloads (hash),
    size         BIGINT NOT NULL,
    PRIMARY KEY (message_id, idx)
);

CREATE TABLE message_events (
    id         BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id),
    at         BIGINT NOT NULL,
    state      TEXT NOT NULL,
    detail     TEXT
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE TABLE outbox (
    message_id      TEXT PRIMARY KEY REFERENCES messages (id),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_error      TEXT,
    dead            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (dead, next_attempt_at);

CREATE TABLE inbox (
    seq         BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE REFERENCES messages (id),
    receiver    TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    acked_at    BIGINT
);
CREATE INDEX inbox_receiver ON inbox (receiver, seq);

-- Receipts received for our messages ('out') and sent for peers' messages ('in').
CREATE TABLE receipts (
    message_id TEXT NOT NULL,
    direction  TEXT NOT NULL,
    content    BYTEA NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (message_id, direction)
);

CREATE TABLE idempotency (
    client_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, key)
);

-- Hash-chained audit log; audit_head serialises appends (one row, locked by UPDATE).
CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
