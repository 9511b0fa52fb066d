-- The same tables as the SQLite store (see migrations/sqlite), in one migration: entries are
-- only ever inserted; heads, passwords and idempotency rows commit with the entries they go with.
-- Timestamps and hashes are TEXT, so a verifier reads exactly the bytes that were hashed.
CREATE TABLE entries (
    record BIGINT NOT NULL,
    seq    BIGINT NOT NULL,
    at     TEXT   NOT NULL,
    actor  TEXT   NOT NULL,
    kind   TEXT   NOT NULL,
    body   TEXT   NOT NULL,
    prev   TEXT   NOT NULL,
    hash   TEXT   NOT NULL,
    PRIMARY KEY (record, seq)
);

CREATE TABLE heads (
    record BIGINT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   TEXT   NOT NULL
);

CREATE TABLE passwords (
    username TEXT PRIMARY KEY,
    phc      TEXT NOT NULL
);

CREATE TABLE idempotency (
    username    TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    record      BIGINT NOT NULL,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    at          TEXT   NOT NULL,
    PRIMARY KEY (username, key)
);
