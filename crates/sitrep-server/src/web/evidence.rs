//! Evidence uploads from the command view.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::forms::Refused;
use super::{Fields, Path1, Viewer, render_command, visible_incident};
use crate::state::AppState;

/// A browser upload: the form's CSRF part is checked before the file is read.
pub(super) async fn upload_evidence(
    State(app): State<AppState>,
    viewer: Viewer,
    crate::extract::Segments(id): Path1,
    request: Request,
) -> Response {
    let incident = match visible_incident(&app, &viewer, &id) {
        Ok(number) => number,
        Err(page) => return *page,
    };
    let (parts, body) = request.into_parts();
    let received =
        crate::api::evidence::receive(&app, &viewer.user, incident, &parts.headers, body, Some(&viewer.csrf)).await;
    match received {
        Ok(_) => Redirect::to(&format!("/incidents/{incident}#evidence")).into_response(),
        Err(error) => {
            // The upload's fields are in its multipart body, already read: the form is known.
            let status = error.status();
            let refused = Refused::of(error, &Fields::default());
            let refused = Refused { form: "evidence".into(), ..refused };
            render_command(&app, &viewer, &id, Some(refused), status).await
        }
    }
}
