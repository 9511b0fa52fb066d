-- The record: every entry of every record, keyed by record (0 = organisation, n = INC-n) and seq.
-- Entries are only ever inserted; nothing in sitrep updates or deletes a row.
CREATE TABLE entries (
    record INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    at     TEXT    NOT NULL,
    actor  TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    body   TEXT    NOT NULL,
    prev   TEXT    NOT NULL,
    hash   TEXT    NOT NULL,
    PRIMARY KEY (record, seq)
) WITHOUT ROWID;

-- Each record's last seq and hash, written in the same transaction as the entries. Appends
-- compare against it (expected seq), and verify compares the chain's end with it, which is how
-- a deleted last entry is noticed.
CREATE TABLE heads (
    record INTEGER PRIMARY KEY,
    seq    INTEGER NOT NULL,
    hash   TEXT    NOT NULL
);
