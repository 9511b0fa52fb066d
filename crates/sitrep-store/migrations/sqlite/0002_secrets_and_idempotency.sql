-- Secrets are not part of the record: the record says that a password was set, by whom and when
-- (`user.password_set`); only this table holds the argon2id hash, so exporting or showing the
-- organisation record never exposes a crackable credential.
CREATE TABLE passwords (
    user TEXT PRIMARY KEY,
    phc  TEXT NOT NULL
);

-- Idempotency-Key bookkeeping, written in the same transaction as the entries it produced, so a
-- retried request after a crash still finds the first answer.
CREATE TABLE idempotency (
    user        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    record      INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    at          TEXT    NOT NULL,
    PRIMARY KEY (user, key)
);
