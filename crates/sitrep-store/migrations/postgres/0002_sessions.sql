-- Browser sessions, shared by every node on this database and surviving restarts; not in the
-- record, because a session's id is a credential (the record names each session by the first
-- 12 hex digits of `id` in its `session.started` / `session.ended` entries).
CREATE TABLE sessions (
    -- SHA-256 (hex) of the secret the cookie carries.
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    csrf           TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    seen_at        TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    authentication TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);
