//! Server time as it appears in the record.
//!
//! Every `at` in the record is UTC with exactly six fractional digits, for example
//! `2026-11-27T16:26:42.123456Z`. One spelling per instant matters because the hash covers the
//! text: a parser that accepted `...Z` and `...+00:00` alike would let a changed byte go unseen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant truncated to microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

/// The text was not a timestamp in the record's one spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a UTC timestamp of the form 2026-11-27T16:26:42.123456Z")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The earliest date a person may give, 2000-01-01T00:00:00Z: nothing sitrep records
    /// happened in the last century, whatever the clock says.
    pub const EARLIEST: Timestamp = Timestamp(jiff::Timestamp::constant(946_684_800, 0));

    /// Truncates to whole microseconds so that formatting and parsing round-trip.
    pub fn from_jiff(at: jiff::Timestamp) -> Self {
        let micros = at.as_microsecond();
        // Every microsecond count of a valid jiff timestamp is itself valid.
        Timestamp(jiff::Timestamp::from_microsecond(micros).unwrap_or(at))
    }

    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        jiff::Timestamp::from_microsecond(micros).ok().map(Timestamp)
    }

    pub fn unix_micros(self) -> i64 {
        self.0.as_microsecond()
    }

    pub fn as_jiff(self) -> jiff::Timestamp {
        self.0
    }

    /// Whether text has the record's fixed shape (`dddd-dd-ddTdd:dd:dd.ddddddZ`). A cheap check
    /// for verifiers, which rely on the hash for everything else.
    pub fn has_record_shape(text: &str) -> bool {
        const SHAPE: &[u8; 27] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
        text.len() == SHAPE.len()
            && text.bytes().zip(SHAPE).all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == *s })
    }

    /// Adds whole seconds, saturating at the edges of the representable range.
    pub fn plus_seconds(self, seconds: i64) -> Self {
        let micros = self.unix_micros().saturating_add(seconds.saturating_mul(1_000_000));
        Self::from_unix_micros(micros).unwrap_or(self)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0.strftime("%Y-%m-%dT%H:%M:%S");
        let micros = self.0.subsec_microsecond();
        write!(f, "{whole}.{micros:06}Z")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed: jiff::Timestamp = s.parse().map_err(|_| TimestampError(s.to_owned()))?;
        let at = Timestamp::from_jiff(parsed);
        if at.to_string() == s { Ok(at) } else { Err(TimestampError(s.to_owned())) }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_digits_and_round_trips() {
        let at = Timestamp::from_unix_micros(1_795_796_802_000_001).expect("in range");
        let text = at.to_string();
        assert!(text.ends_with(".000001Z"), "{text}");
        assert_eq!(text.parse::<Timestamp>(), Ok(at));
    }

    #[test]
    fn refuses_other_spellings_of_the_same_instant() {
        for other in [
            "2026-11-27T16:26:42Z",
            "2026-11-27T16:26:42.123456+00:00",
            "2026-11-27t16:26:42.123456Z",
            "2026-11-27T16:26:42.1234560Z",
            "2026-11-27T16:26:42.123456z",
        ] {
            assert!(other.parse::<Timestamp>().is_err(), "{other} was accepted");
        }
        assert!("2026-11-27T16:26:42.123456Z".parse::<Timestamp>().is_ok());
    }
}
