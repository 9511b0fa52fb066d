-- Browser sessions. Kept in the store (not in server memory) so they survive a restart and
-- every node on one database sees the same ones; not in the record, because a session's id is
-- a credential. The record holds `session.started` / `session.ended` entries naming each
-- session by the first 12 hex digits of `id`.
CREATE TABLE sessions (
    -- SHA-256 (hex) of the secret the cookie carries: a stolen table signs nobody in.
    id             TEXT PRIMARY KEY,
    user           TEXT NOT NULL,
    csrf           TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    seen_at        TEXT NOT NULL,
    -- The absolute end; the idle limit is applied to `seen_at` by the server's configuration.
    expires_at     TEXT NOT NULL,
    -- JSON: how the person authenticated (method, time, issuer, acr, amr).
    authentication TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user);
