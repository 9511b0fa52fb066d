//! The `command` connector: an executable an admin registered, run without a shell, with the
//! action as JSON on stdin and a timeout. Exit 0 is success; exit 75 (EX_TEMPFAIL) asks to be
//! retried; any other exit is a final failure. Output is kept, truncated, in the record.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sitrep_core::decide::ActionFailure;
use tokio::io::AsyncWriteExt;

use super::truncate;
use crate::config::CommandConfig;

pub async fn run(
    config: &CommandConfig,
    idempotency_key: &str,
    input: &Value,
) -> Result<Option<String>, ActionFailure> {
    let fail = |reason: String, retryable| ActionFailure { reason, retryable };
    let mut child = tokio::process::Command::new(&config.path)
        .args(&config.args)
        .env("SITREP_IDEMPOTENCY_KEY", idempotency_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", config.path.display()), false))?;
    let bytes = serde_json::to_vec(input).map_err(|e| fail(e.to_string(), false))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores its input may close stdin early; that is not an error.
        let _ = stdin.write_all(&bytes).await;
    }
    let waited = tokio::time::timeout(Duration::from_secs(config.timeout_secs), child.wait_with_output()).await;
    let output = match waited {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(fail(format!("{} failed: {error}", config.path.display()), true)),
        Err(_) => {
            return Err(fail(
                format!("{} did not finish within {} s and was killed", config.path.display(), config.timeout_secs),
                true,
            ));
        }
    };
    let text = truncate(&format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        if output.stderr.is_empty() {
            String::new()
        } else {
            format!(" [stderr] {}", String::from_utf8_lossy(&output.stderr).trim())
        }
    ));
    match output.status.code() {
        Some(0) => Ok(Some(format!("exit 0: {text}"))),
        Some(75) => Err(fail(format!("exit 75 (try again later): {text}"), true)),
        Some(code) => Err(fail(format!("exit {code}: {text}"), false)),
        None => Err(fail(format!("killed by a signal: {text}"), true)),
    }
}
