//! TEMPORARY: stands in for `crate::auth::begin_session`, which the move of browser sessions
//! into the store adds on `main`. It starts an in-memory session and drops the authentication;
//! the merge deletes this file and points `oidc` at the real function.

use sitrep_core::UserName;
use sitrep_core::authn::Authentication;

use crate::error::ApiError;
use crate::state::AppState;

/// Starts a browser session for `user`: the cookie value and the CSRF token.
pub(crate) async fn begin_session(
    app: &AppState,
    user: &UserName,
    authentication: Authentication,
) -> Result<(String, String), ApiError> {
    let _ = authentication;
    app.auth.start_session(user)
}
