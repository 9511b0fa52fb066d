//! The sitrep server: the HTTP API, sign-in, live events and the operational endpoints.
//!
//! `app(state)` builds every route; `serve::run` opens the data directory, starts the ledger and
//! serves until SIGTERM or SIGINT. Handlers only translate between HTTP and the ledger: every
//! change goes through `Ledger::execute`, and so through `sitrep_core::decide`. This crate knows
//! no SQL.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub mod api;
pub mod auth;
pub mod chat;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod error;
pub mod extract;
pub mod listener;
pub mod metrics;
pub mod oidc;
pub mod scim;
pub mod serve;
pub mod shares;
pub mod state;
pub mod views;
pub mod web;

pub use config::Config;
pub use error::ApiError;
pub use state::{AppState, Inner};

/// The whole application: the API, its OpenAPI document, health, readiness and metrics.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api::routes().split_for_parts();
    let openapi: Arc<[u8]> = serde_json::to_vec_pretty(&openapi).unwrap_or_default().into();
    // The demo's receiver exists only under `serve --demo`; elsewhere its routes are not there.
    let demo = match &state.demo_receiver {
        Some(receiver) => demo::receiver_routes(receiver.clone()),
        None => Router::new(),
    };
    Router::new()
        .merge(api)
        .merge(demo)
        .merge(web::routes(&state))
        .merge(scim::routes(&state))
        .merge(oidc::routes())
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document.to_vec()) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .route("/shares/{token}", get(shares::page))
        .route("/shares/{token}/{sha256}", get(shares::download))
        .fallback(|| async { ApiError::NotFound("there is no such route; GET /api/v1/openapi.json lists them".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError::MethodNotAllowed(
                "this route does not take that method; the Allow header lists those it does".into(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), oidc::password_guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        .layer(header_layer("x-content-type-options", "nosniff"))
        .layer(header_layer("referrer-policy", "no-referrer"))
        .layer(header_layer("x-frame-options", "DENY"))
        .layer(header_layer("cache-control", "no-store"))
        .with_state(state)
}

fn header_layer(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
}

/// Ready when the record's writer runs and the store answers.
async fn readyz(State(app): State<AppState>) -> Response {
    if let Some(reason) = app.ledger.stopped() {
        return ApiError::Unavailable(format!("the record's writer stopped ({reason}); sitrep is exiting to restart"))
            .into_response();
    }
    let store = app.ledger.store().clone();
    match tokio::task::spawn_blocking(move || store.ping()).await {
        Ok(Ok(())) => "ready\n".into_response(),
        _ => ApiError::Unavailable("the store does not answer".into()).into_response(),
    }
}
