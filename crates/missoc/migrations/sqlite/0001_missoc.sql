-- MISSOC comparative tables: users (bearer tokens, hashed), their page sessions, editions,
-- categories, glossary, entries and the correspondents' change sets.
-- Times are Unix milliseconds, booleans 0/1; editions are their date as text (YYYY-MM-DD).
CREATE TABLE missoc_users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    -- 'secretariat', 'correspondent' (with country) or 'reader'
    role       TEXT NOT NULL,
    country    TEXT,
    -- SHA-256 of the bearer token, hex; the token itself is never stored
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Sessions of the HTML pages, found by the SHA-256 of the cookie value.
CREATE TABLE missoc_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES missoc_users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX missoc_sessions_expiry ON missoc_sessions (expires_at);

CREATE TABLE missoc_editions (
    edition      TEXT PRIMARY KEY,
    -- 'open', 'in_review', 'published'
    state        TEXT NOT NULL,
    opened_at    BIGINT NOT NULL,
    published_at BIGINT,
    -- 1 when the edition is sample data (imported from a file that says so)
    sample_data  BIGINT NOT NULL DEFAULT 0,
    notice       TEXT
);

CREATE TABLE missoc_categories (
    code     TEXT PRIMARY KEY,
    title_en TEXT,
    title_fr TEXT,
    title_de TEXT
);

CREATE TABLE missoc_glossary (
    key           TEXT PRIMARY KEY,
    term_en       TEXT,
    term_fr       TEXT,
    term_de       TEXT,
    definition_en TEXT,
    definition_fr TEXT,
    definition_de TEXT
);

CREATE TABLE missoc_entries (
    edition    TEXT NOT NULL REFERENCES missoc_editions (edition),
    country    TEXT NOT NULL,
    category   TEXT NOT NULL REFERENCES missoc_categories (code),
    language   TEXT NOT NULL,
    text       TEXT NOT NULL,
    -- JSON array of strings
    legal_refs TEXT NOT NULL,
    -- the edition in which the text last changed
    changed_in TEXT NOT NULL,
    PRIMARY KEY (edition, country, category, language)
);
CREATE INDEX missoc_entries_category ON missoc_entries (edition, category);

CREATE TABLE missoc_change_sets (
    edition    TEXT NOT NULL REFERENCES missoc_editions (edition),
    country    TEXT NOT NULL,
    -- 'draft', 'submitted', 'accepted', 'sent_back', 'carried_over'
    state      TEXT NOT NULL,
    comments   TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (edition, country)
);

-- MISSOC's own hash-chained audit log (sedgate_base::audit); missoc_audit_head links
-- appends in order.
CREATE TABLE missoc_audit (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE missoc_audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO missoc_audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
