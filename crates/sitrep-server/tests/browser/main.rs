//! The web command centre in a real browser: headless Chromium driven over chromedriver.
//!
//! Every test starts its own sitrep server (fresh data directory, demo seeded) and its own
//! chromedriver, and each browser session gets a fresh profile. Without Chromium and
//! chromedriver the tests say so in one line and pass, unless `SITREP_BROWSER_TESTS=required`.

mod a11y;
mod alerts;
mod close;
mod evidence;
mod flows;
mod forms;
mod harness;
mod keyboard;
mod oidc;
mod queue;
mod record;
mod review;
mod scenario;
mod screenshots;
mod time;
