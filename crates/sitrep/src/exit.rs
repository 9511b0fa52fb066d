//! The binary's exit codes: the one table scripts rely on, also listed in `docs/cli.md`.

/// What `sitrep`'s exit code says. Every command, admin or client, exits with one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `verify` and `verify-bundle`, everything verifies.
    Ok = 0,
    /// `verify`, `verify-bundle`, `policy check` or `bench crash` found something that does
    /// not hold.
    Broken = 1,
    /// The command could not run: bad arguments, no server or token configured, a missing,
    /// non-empty or locked data directory, a file that cannot be read, I/O.
    Usage = 2,
    /// The policy or your organisation role does not allow it (403).
    Refused = 3,
    /// No such incident, fact, decision, task, user, evidence item, statement, party, share,
    /// lesson or control change, or not visible to you (404).
    NotFound = 4,
    /// It contradicts the current state, e.g. a withdrawn decision or a closed incident (409).
    Conflict = 5,
    /// The request's content is wrong (400, 413, 415, 422).
    Invalid = 6,
    /// Not signed in: the token is missing, unknown, expired or revoked (401).
    Unauthenticated = 7,
    /// The server failed, is unreachable, or asks to wait (5xx, 429, network), or answered
    /// something the client cannot read.
    Unavailable = 8,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}
