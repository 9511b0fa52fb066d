//! Bodies of the entries the chat connector writes to an incident's record.

use super::*;

/// The incident's room in a chat system, so a restart finds it rather than opening a second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatRoomOpened {
    /// `matrix` or `slack`.
    pub system: String,
    /// The room's id in that system (`!abc:example.org`).
    pub room: String,
}
