//! Checking a record as the server serves it.

use serde_json::{Value, json};
use sitrep_core::{Entry, RecordId};

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Asserts that an incident's entries, as served, form its chain: seqs 1, 2, … without a gap,
/// each `prev` the hash before it, and every hash re-computed by the core's verifier.
pub fn assert_chain(entries: &[Value]) {
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], json!(index as u64 + 1), "seqs run 1, 2, … without a gap");
        let expected_prev = if index == 0 { json!(ZERO_HASH) } else { entries[index - 1]["hash"].clone() };
        assert_eq!(entry["prev"], expected_prev, "entry {} links to the one before", index + 1);
    }
    let parsed: Vec<Entry> =
        entries.iter().map(|entry| serde_json::from_value(entry.clone()).expect("an entry as served parses")).collect();
    let number = entries
        .first()
        .and_then(|e| e["body"]["number"].as_str())
        .and_then(|n| n.parse().ok())
        .expect("the first entry declares the incident");
    sitrep_core::chain::verify_entries(RecordId::Incident(number), &parsed)
        .expect("every hash re-computes from the entry as served");
}
