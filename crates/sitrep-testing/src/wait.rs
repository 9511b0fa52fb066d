//! Waiting for something to happen: poll a probe until it holds or a deadline passes, never a
//! fixed sleep (which is either too short on a loaded machine or wastes time on an idle one).

use std::future::Future;
use std::time::{Duration, Instant};

/// What a probe says: the value awaited, or not yet (with what it saw, for the failure message).
pub trait Probe<T> {
    fn seen(self) -> Result<T, String>;
}

impl<T> Probe<T> for Option<T> {
    fn seen(self) -> Result<T, String> {
        self.ok_or_else(|| "not yet".to_owned())
    }
}

impl<T> Probe<T> for Result<T, String> {
    fn seen(self) -> Result<T, String> {
        self
    }
}

const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` until it gives a value, or fails the test after `patience`, naming `what` was
/// awaited and what the probe saw last.
pub async fn eventually<T, P, F, Fut>(what: &str, patience: Duration, mut probe: F) -> T
where
    P: Probe<T>,
    F: FnMut() -> Fut,
    Fut: Future<Output = P>,
{
    let deadline = Instant::now() + patience;
    loop {
        match probe().await.seen() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {patience:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// [`eventually`] for tests without an async runtime.
pub fn eventually_blocking<T, P: Probe<T>>(what: &str, patience: Duration, mut probe: impl FnMut() -> P) -> T {
    let deadline = Instant::now() + patience;
    loop {
        match probe().seen() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {patience:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_returns_as_soon_as_the_probe_holds() {
        let mut tries = 0;
        let got = eventually_blocking("the third try", Duration::from_secs(5), || {
            tries += 1;
            (tries == 3).then_some(tries)
        });
        assert_eq!(got, 3);
    }

    #[test]
    #[should_panic(expected = "waiting for what never comes; last seen: still 7")]
    fn it_fails_naming_what_it_waited_for_and_what_it_saw() {
        eventually_blocking("what never comes", Duration::from_millis(50), || Err::<(), _>("still 7".to_owned()));
    }
}
