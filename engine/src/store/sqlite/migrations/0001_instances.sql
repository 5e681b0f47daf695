-- Weft store, schema version 1: instances with their checkpoints, pinned blobs, history and outbox.
-- The tables a PostgreSQL backend will mirror in its own migrations; `WITHOUT ROWID` (SQLite's) keeps
-- history and outbox rows in their primary-key B-tree, one page write fewer per commit.

CREATE TABLE blobs (
    digest  TEXT PRIMARY KEY,          -- SHA-256 of content, hex
    content BLOB NOT NULL
);

CREATE TABLE instances (
    id                TEXT PRIMARY KEY,
    process           TEXT NOT NULL,
    version           TEXT NOT NULL,
    status            TEXT NOT NULL,
    definition_file   TEXT NOT NULL,
    definition_digest TEXT NOT NULL REFERENCES blobs (digest),
    components        TEXT NOT NULL,   -- JSON array of [step id, digest]
    revision          BIGINT NOT NULL,
    checkpoint        TEXT NOT NULL,   -- the run state as JSON
    history_len       BIGINT NOT NULL,
    outbox_len        BIGINT NOT NULL,
    created_ms        BIGINT NOT NULL,
    updated_ms        BIGINT NOT NULL,
    owner             TEXT
);

CREATE INDEX instances_by_status ON instances (status, created_ms);

CREATE TABLE history (
    instance TEXT NOT NULL REFERENCES instances (id),
    seq      BIGINT NOT NULL,          -- the commit's position, from 1
    entries  TEXT NOT NULL,            -- the commit's HistoryEntry records, a JSON array
    PRIMARY KEY (instance, seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
    instance  TEXT NOT NULL REFERENCES instances (id),
    seq       BIGINT NOT NULL,
    event_id  TEXT NOT NULL,
    cloudevent TEXT NOT NULL,          -- structured-mode CloudEvents JSON
    published INTEGER NOT NULL,        -- 0 or 1
    PRIMARY KEY (instance, seq)
) WITHOUT ROWID;
