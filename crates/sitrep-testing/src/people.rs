//! Who the test organisations hold: the same names in every harness, so a failure message reads
//! the same whichever suite it comes from.

use sitrep_core::UserName;

/// The admin the deployment is created with.
pub const ADMIN: &str = "admin";
/// Members staffed in the five core incident roles of a standard incident.
pub const COMMANDER: &str = "cmd";
pub const TECH_LEAD: &str = "tech";
pub const LEGAL: &str = "lee";
pub const COMMS: &str = "cora";
pub const EXECUTIVE: &str = "exec";
/// A member staffed as responder (and scribe): a participant who may not retry actions.
pub const RESPONDER: &str = "resp";
/// A member who holds no role on any incident.
pub const OUTSIDER: &str = "otto";

/// A user name a test spells out.
pub fn user(name: &str) -> UserName {
    UserName::parse(name).expect("a valid user name")
}
