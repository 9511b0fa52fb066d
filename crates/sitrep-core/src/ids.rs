//! Names and identifiers, parsed once at the edge so the rest of the code can trust them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name or identifier was refused; the message says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {what}: {expected}")]
pub struct ParseIdError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

fn refuse(what: &'static str, value: &str, expected: &'static str) -> ParseIdError {
    let mut shown: String = value.chars().take(80).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    ParseIdError { what, value: shown, expected }
}

/// Implements Display, FromStr and string serde for a type with `parse` and `as_str`-like Display.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_slug(text: &str, max: usize, extra: &[char]) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && text.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

/// A named slug such as a user name, role or decision class.
macro_rules! slug_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $max:literal, $extra:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            pub fn parse(text: &str) -> Result<Self, ParseIdError> {
                if is_slug(text, $max, $extra) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(refuse($what, text, $expected))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        string_serde!($ty);
    };
}

slug_type!(
    /// A user's login name: lower-case letters, digits, `.`, `_` and `-`, starting with a letter.
    UserName,
    "user name",
    64,
    &['.', '_', '-'],
    "1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
);

slug_type!(
    /// An incident role (`commander`, `tech_lead`, …); the policy says which exist.
    Role,
    "role",
    40,
    &['_'],
    "1 to 40 characters of a-z, 0-9 or '_', starting with a letter"
);

slug_type!(
    /// A decision class (`containment`, `external_statement`, …); the policy says which exist.
    DecisionClass,
    "decision class",
    40,
    &['_'],
    "1 to 40 characters of a-z, 0-9 or '_', starting with a letter"
);

/// Identifiers numbered within an incident: `F-<n>`, `D-<n>`, `T-<n>`.
macro_rules! numbered_id {
    ($(#[$doc:meta])* $ty:ident, $prefix:literal, $what:literal, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub u64);

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "-{}"), self.0)
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.strip_prefix(concat!($prefix, "-"))
                    .filter(|digits| {
                        !digits.is_empty()
                            && digits.len() <= 18
                            && !digits.starts_with('0')
                            && digits.bytes().all(|b| b.is_ascii_digit())
                    })
                    .and_then(|digits| digits.parse().ok())
                    .map($ty)
                    .ok_or_else(|| refuse($what, s, $expected))
            }
        }

        string_serde!($ty);
    };
}

numbered_id!(
    /// An incident's deployment-wide sequential number.
    IncidentNumber,
    "INC",
    "incident id",
    "INC-<n>, for example INC-12"
);
numbered_id!(
    /// A fact within an incident.
    FactId,
    "F",
    "fact id",
    "F-<n>, for example F-3"
);
numbered_id!(
    /// A decision within an incident.
    DecisionId,
    "D",
    "decision id",
    "D-<n>, for example D-2"
);
numbered_id!(
    /// A lesson of an incident's post-incident review.
    LessonId,
    "L",
    "lesson id",
    "L-<n>, for example L-1"
);
numbered_id!(
    /// A control change a lesson turned into.
    ControlChangeId,
    "CC",
    "control change id",
    "CC-<n>, for example CC-2"
);
numbered_id!(
    /// A share link within an incident.
    ShareId,
    "SH",
    "share id",
    "SH-<n>, for example SH-1"
);
numbered_id!(
    /// A statement within an incident.
    StatementId,
    "ST",
    "statement id",
    "ST-<n>, for example ST-2"
);
numbered_id!(
    /// A task within an incident.
    TaskId,
    "T",
    "task id",
    "T-<n>, for example T-5"
);

/// Closed vocabularies with one spelling each.
macro_rules! word_enum {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $expected:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty { $($variant),+ }

        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(refuse($what, s, $expected)),
                }
            }
        }

        string_serde!($ty);
    };
}

word_enum!(
    /// How bad it is: `sev1` is the worst.
    Severity, "severity", "one of sev1, sev2, sev3, sev4",
    { Sev1 = "sev1", Sev2 = "sev2", Sev3 = "sev3", Sev4 = "sev4" }
);

word_enum!(
    /// Where the incident is in its life; only `closed` is final.
    Phase, "phase",
    "one of declared, triage, containment, eradication, recovery, post_incident, closed",
    {
        Declared = "declared",
        Triage = "triage",
        Containment = "containment",
        Eradication = "eradication",
        Recovery = "recovery",
        PostIncident = "post_incident",
        Closed = "closed",
    }
);

word_enum!(
    /// What a user may do in the organisation, independent of any incident.
    OrgRole, "organisation role", "one of admin, member, viewer, auditor",
    { Admin = "admin", Member = "member", Viewer = "viewer", Auditor = "auditor" }
);

/// Who wrote an entry: a named user, or a connector acting for the system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    User(UserName),
    /// `system:<connector>`, for entries written by connectors and the action worker.
    System(String),
}

impl Actor {
    pub fn system(connector: &str) -> Result<Self, ParseIdError> {
        format!("system:{connector}").parse()
    }

    pub fn user(&self) -> Option<&UserName> {
        match self {
            Actor::User(name) => Some(name),
            Actor::System(_) => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(name) => f.write_str(name.as_str()),
            Actor::System(connector) => write!(f, "system:{connector}"),
        }
    }
}

impl FromStr for Actor {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "a user name, or system:<connector>";
        match s.strip_prefix("system:") {
            Some(connector) if is_slug(connector, 40, &['_', '-']) => Ok(Actor::System(connector.to_owned())),
            Some(_) => Err(refuse("actor", s, EXPECTED)),
            None => UserName::parse(s).map(Actor::User).map_err(|_| refuse("actor", s, EXPECTED)),
        }
    }
}

impl From<UserName> for Actor {
    fn from(name: UserName) -> Self {
        Actor::User(name)
    }
}

string_serde!(Actor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_ids_have_one_spelling() {
        assert_eq!("INC-12".parse::<IncidentNumber>(), Ok(IncidentNumber(12)));
        assert_eq!(IncidentNumber(12).to_string(), "INC-12");
        assert_eq!("D-3".parse::<DecisionId>(), Ok(DecisionId(3)));
        for bad in ["D-", "D-03", "d-3", "D-3x", "D--3", "F-3", "D-99999999999999999999"] {
            assert!(bad.parse::<DecisionId>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn names_are_slugs() {
        assert!(UserName::parse("alice.o-neil_2").is_ok());
        for bad in ["", "Alice", "1alice", "al ice", "al<ice", &"a".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad} was accepted");
        }
        let error = Role::parse("Legal").unwrap_err();
        assert!(error.to_string().contains("'Legal' is not a valid role"));
    }

    #[test]
    fn actors_are_users_or_connectors() {
        assert_eq!("alice".parse::<Actor>().map(|a| a.to_string()), Ok("alice".into()));
        assert_eq!("system:webhook".parse::<Actor>(), Ok(Actor::System("webhook".into())));
        assert!("system:".parse::<Actor>().is_err());
        assert!("system:Web Hook".parse::<Actor>().is_err());
    }

    #[test]
    fn words_parse_and_print_alike() {
        for phase in Phase::ALL {
            assert_eq!(phase.as_str().parse::<Phase>(), Ok(*phase));
        }
        assert!("sev5".parse::<Severity>().is_err());
    }
}
