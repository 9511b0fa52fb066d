//! The OpenID provider the sign-in tests use (`tools/oidc/provider.mjs`, oidc-provider 8 on
//! Node), started on loopback for one test and stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The client the provider knows sitrep as.
pub const CLIENT_ID: &str = "sitrep-tests";
pub const CLIENT_SECRET: &str = "a-test-client-secret";
/// Every test account's password at the provider.
pub const PASSWORD: &str = "correct horse battery staple";
/// The one-time code that makes a sign-in multi-factor (`amr: ["pwd","otp"]`).
pub const OTP: &str = "123456";

/// A running provider.
#[derive(Debug)]
pub struct Provider {
    child: Child,
    /// `http://127.0.0.1:<port>`, its issuer.
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc")
}

/// Whether the provider can run here. Says why not, or panics when `SITREP_OIDC_TESTS=required`.
pub fn available() -> bool {
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if node && tools().join("node_modules/oidc-provider").is_dir() {
        return true;
    }
    let message = "SKIPPED OpenID tests: install Node 20 and run `npm ci --prefix tools/oidc`";
    assert!(
        std::env::var("SITREP_OIDC_TESTS").as_deref() != Ok("required"),
        "{message} (SITREP_OIDC_TESTS=required: the OpenID tests may not skip)"
    );
    println!("{message}");
    false
}

impl Provider {
    /// Starts the provider with sitrep's client, whose redirect URI is `redirect`; returns once
    /// it listens.
    pub fn start(redirect: &str) -> Provider {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("an ephemeral port").port();
        let mut child = Command::new("node")
            .arg(tools().join("provider.mjs"))
            .args(["--port", &port.to_string(), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--redirect-uri", redirect])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("the provider's stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the provider prints its ready line");
        // Keep reading what it prints: a closed pipe would end it at its next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer =
            line.trim().strip_prefix("ready ").unwrap_or_else(|| panic!("not a ready line: {line:?}")).to_owned();
        Provider { child, issuer }
    }
}
