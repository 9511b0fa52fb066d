//! The `command` connector: an executable an admin registered, run without a shell, with the
//! action as JSON on stdin and a timeout. Exit 0 is success; exit 75 (EX_TEMPFAIL) asks to be
//! retried; any other exit is a final failure. Output is kept, truncated, in the record.
//!
//! Writing the input, reading the output and waiting for the exit all run under one deadline,
//! so a command that never reads its stdin (a full pipe) or never closes its output is stopped
//! at its timeout like one that never exits. The command runs in a process group of its own;
//! at the timeout, or if the attempt is abandoned (the worker stops), the whole group is killed,
//! so whatever it started dies with it. Only what the record keeps of the output is held; the
//! rest is read and dropped, so a chatty command neither blocks nor fills memory.

use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use serde_json::Value;
use sitrep_core::decide::ActionFailure;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{ANSWER_BYTES, truncate};
use crate::config::CommandConfig;

pub async fn run(
    config: &CommandConfig,
    idempotency_key: &str,
    input: &Value,
) -> Result<Option<String>, ActionFailure> {
    let fail = |reason: String, retryable| ActionFailure { reason, retryable };
    let bytes = serde_json::to_vec(input).map_err(|e| fail(e.to_string(), false))?;
    let mut child = tokio::process::Command::new(&config.path)
        .args(&config.args)
        .env("SITREP_IDEMPOTENCY_KEY", idempotency_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group (its pid is the group's id), so a timeout can stop all it started.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", config.path.display()), false))?;
    let mut group = Group::of(&child);
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A command that ignores its input may close stdin early; that is not an error.
            let _ = stdin.write_all(&bytes).await;
            // Dropping it closes the pipe: the command reads end of input.
        }
    };
    // The output is read to its end before the exit is collected, so the command stays
    // unreaped, and its group's id its own, until the group is no longer needed.
    let finish = async {
        let ((), stdout, stderr) = tokio::join!(write, keep(stdout), keep(stderr));
        child.wait().await.map(|status| (status, stdout, stderr))
    };
    let waited = tokio::time::timeout(Duration::from_secs(config.timeout_secs), finish).await;
    let (status, stdout, stderr) = match waited {
        Ok(Ok(done)) => {
            group.reaped();
            done
        }
        Ok(Err(error)) => return Err(fail(format!("{} failed: {error}", config.path.display()), true)),
        Err(_) => {
            // Kill the group while its leader is still unreaped (so its id cannot have been
            // reused), then reap the leader.
            group.kill();
            let _ = child.kill().await;
            group.reaped();
            return Err(fail(
                format!(
                    "{} did not finish within {} s; its process group was killed",
                    config.path.display(),
                    config.timeout_secs
                ),
                true,
            ));
        }
    };
    let text = truncate(&format!(
        "{}{}",
        String::from_utf8_lossy(&stdout).trim(),
        if stderr.is_empty() {
            String::new()
        } else {
            format!(" [stderr] {}", String::from_utf8_lossy(&stderr).trim())
        }
    ));
    match status.code() {
        Some(0) => Ok(Some(format!("exit 0: {text}"))),
        Some(75) => Err(fail(format!("exit 75 (try again later): {text}"), true)),
        Some(code) => Err(fail(format!("exit {code}: {text}"), false)),
        None => Err(fail(format!("killed by a signal: {text}"), true)),
    }
}

/// Reads a pipe to its end, keeping the first [`ANSWER_BYTES`] bytes and dropping the rest.
async fn keep(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else { return kept };
    let mut buffer = [0u8; 8192];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return kept,
            Ok(read) => {
                let room = ANSWER_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
}

/// A command's process group: killed when dropped before its leader was reaped, which is what
/// happens when the worker abandons the attempt (at shutdown), so nothing it started lives on.
#[derive(Debug)]
struct Group(Option<Pid>);

impl Group {
    fn of(child: &tokio::process::Child) -> Group {
        Group(child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw))
    }

    /// Sends SIGKILL to every process in the group.
    fn kill(&self) {
        if let Some(pid) = self.0 {
            // Fails only if the group is already empty.
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }

    /// The leader was reaped: its id may be reused from now on, so it is never signalled again.
    fn reaped(&mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_is_read_to_its_end_but_only_its_start_is_kept() {
        let output = vec![b'x'; 1024 * 1024];
        let mut pipe = output.as_slice();
        let kept = keep(Some(&mut pipe)).await;
        assert_eq!(kept.len(), ANSWER_BYTES, "only what the record could keep is held");
        assert!(pipe.is_empty(), "the rest was read, so a command writing it is never blocked");
        assert!(keep(None::<&[u8]>).await.is_empty());
    }
}
