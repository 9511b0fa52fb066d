//! Signed webhooks: a JSON body, signed with HMAC-SHA256 over a timestamp and the body.
//!
//! ```text
//! X-Sitrep-Signature: t=1795796802,v1=<hex HMAC-SHA256(secret, "1795796802." + body)>
//! Idempotency-Key: sitrep:<incident uuid>:D-1:1
//! ```
//!
//! A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in
//! constant time, rejects timestamps more than a few minutes old, and does the work once per
//! idempotency key (`docs/walkthrough-leaked-key.md` shows a receiver).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::Value;
use sitrep_core::decide::ActionFailure;

use super::read_answer;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const SIGNATURE_HEADER: &str = "x-sitrep-signature";

/// `t=<unix seconds>,v1=<hex>` for this body at this time.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> Result<String, ActionFailure> {
    // HMAC takes keys of any length; an error here would be a defect, reported as a failure.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .map_err(|e| ActionFailure { reason: format!("cannot sign: {e}"), retryable: false })?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes())))
}

/// Posts a signed JSON body; 2xx is success, anything a retry could fix is a retryable failure.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    idempotency_key: &str,
    body: &Value,
    timeout: Duration,
) -> Result<Option<String>, ActionFailure> {
    let bytes = serde_json::to_vec(body).map_err(|e| ActionFailure { reason: e.to_string(), retryable: false })?;
    let now = sitrep_store::time::now().as_jiff().as_second();
    let response = http
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", idempotency_key)
        .header(SIGNATURE_HEADER, signature(secret, now, &bytes)?)
        .body(bytes)
        .send()
        .await
        .map_err(|error| ActionFailure {
            reason: format!("could not reach the receiver: {}", root(&error)),
            retryable: true,
        })?;
    let status = response.status();
    let text = read_answer(response).await;
    if status.is_success() {
        Ok(Some(format!("HTTP {}: {text}", status.as_u16())))
    } else {
        // A redirect is not followed: the signed body goes only where an admin pointed it.
        let retryable = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
        Err(ActionFailure { reason: format!("HTTP {}: {text}", status.as_u16()), retryable })
    }
}

fn root(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let sign = |secret: &str, t: i64, body: &[u8]| signature(secret, t, body).expect("signs");
        let a = sign("s3cret", 1_795_796_802, b"{\"a\":1}");
        assert!(a.starts_with("t=1795796802,v1="), "{a}");
        assert_ne!(a, sign("s3cret", 1_795_796_803, b"{\"a\":1}"));
        assert_ne!(a, sign("s3cret", 1_795_796_802, b"{\"a\":2}"));
        assert_ne!(a, sign("other", 1_795_796_802, b"{\"a\":1}"));
        // RFC 4231 test case 2 style check of the HMAC itself: key "Jefe".
        let mut mac = HmacSha256::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
