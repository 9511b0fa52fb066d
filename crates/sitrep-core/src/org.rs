//! The organisation's state: users, their org roles, API tokens, the policy in force and the
//! playbooks, folded from the organisation record exactly as an incident is from its own.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use uuid::Uuid;

use crate::authn::ExternalIdentity;
use crate::entry::{Entry, EntryHash};
use crate::events::*;
use crate::ids::{Actor, OrgRole, UserName};
use crate::incident::FoldError;
use crate::policy::Policy;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct OrgState {
    pub deployment: Uuid,
    pub name: String,
    pub public_key: String,
    pub users: BTreeMap<UserName, User>,
    /// Tokens by the SHA-256 of their secret.
    pub tokens: BTreeMap<String, Token>,
    pub policy: Policy,
    pub playbooks: BTreeMap<String, PlaybookRecord>,
    /// The third-party registry, by party id.
    pub parties: BTreeMap<String, PartyRecord>,
    pub seq: u64,
    pub head: EntryHash,
    pub updated_at: Timestamp,
    /// When the organisation record began.
    pub created_at: Timestamp,
    /// The entry that last granted or revoked each organisation role (or added a user with it).
    pub roles_changed: BTreeMap<OrgRole, Changed>,
}

/// The entry that last changed something: its time and seq (a version an identity provider
/// can compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub at: Timestamp,
    pub seq: u64,
}

/// Who last disabled a user, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub by: Actor,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub name: UserName,
    pub display_name: Option<String>,
    pub org_roles: BTreeSet<OrgRole>,
    pub active: bool,
    /// When a password was last set; `None` for token-only users.
    pub password_set_at: Option<Timestamp>,
    pub added_at: Timestamp,
    pub added_by: Actor,
    /// The identity provider's account this user was provisioned from.
    pub identity: Option<ExternalIdentity>,
    /// When this user last began a session.
    pub signed_in_at: Option<Timestamp>,
    /// Linked chat identities: system (`matrix`, `slack`) → that system's user id.
    pub chat: BTreeMap<String, String>,
    /// The entry that last changed the account (added, enabled, disabled, renamed, roles).
    #[serde(skip)]
    pub changed: Changed,
    /// While disabled: by whom and why.
    #[serde(skip)]
    pub disabled: Option<Disabled>,
    /// Where they are told it is their turn.
    #[serde(skip)]
    pub contact: Contact,
}

/// A user's contact routes and the alerts they mute (`user.contact_set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: Option<String>,
    pub webhook: Option<String>,
    pub mute: Vec<crate::incident::AlertKind>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    /// The first 12 hex digits of the SHA-256: safe to show and to name in a revocation.
    pub id: String,
    pub user: UserName,
    pub label: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    /// The id of the token this one was created with (it is revoked with that one).
    pub minted_by: Option<String>,
    /// The full SHA-256 behind `minted_by`.
    #[serde(skip)]
    parent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaybookRecord {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub source: String,
    pub added_at: Timestamp,
    pub added_by: Actor,
}

/// A registered third party and who last changed its entry.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyRecord {
    #[serde(flatten)]
    pub party: Party,
    pub registered_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: Actor,
}

impl User {
    pub fn has(&self, role: OrgRole) -> bool {
        self.org_roles.contains(&role)
    }

    /// Admins and members act on incidents; viewers and auditors only read.
    pub fn may_act(&self) -> bool {
        self.active && (self.has(OrgRole::Admin) || self.has(OrgRole::Member))
    }
}

impl Token {
    pub fn is_valid(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

impl OrgState {
    /// Folds the organisation record: deployment first, then anything.
    pub fn fold<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<OrgState, FoldError> {
        let mut entries = entries.into_iter();
        let first = entries.next().ok_or_else(|| FoldError {
            seq: 1,
            kind: String::new(),
            reason: "the organisation record is empty".into(),
        })?;
        let mut state = OrgState::create(first, &parse(first)?)?;
        for entry in entries {
            state.apply(entry, &parse(entry)?)?;
        }
        Ok(state)
    }

    /// Starts from the record's first entry. The policy is the built-in default until the
    /// record replaces it (which `sitrep init` does at once, so the policy in force is always
    /// in the record).
    pub fn create(entry: &Entry, event: &OrgEvent) -> Result<OrgState, FoldError> {
        let OrgEvent::DeploymentCreated(created) = event else {
            return Err(fold_error(entry, "the first entry must be deployment.created"));
        };
        if entry.seq != 1 || entry.prev != EntryHash::ZERO {
            return Err(fold_error(entry, "deployment.created must be seq 1 with a zero prev"));
        }
        Ok(OrgState {
            deployment: created.deployment,
            name: created.name.clone(),
            public_key: created.public_key.clone(),
            users: BTreeMap::new(),
            tokens: BTreeMap::new(),
            policy: Policy::default_policy(),
            playbooks: BTreeMap::new(),
            parties: BTreeMap::new(),
            seq: 1,
            head: entry.hash,
            updated_at: entry.at,
            created_at: entry.at,
            roles_changed: BTreeMap::new(),
        })
    }

    pub fn apply(&mut self, entry: &Entry, event: &OrgEvent) -> Result<(), FoldError> {
        if entry.seq != self.seq + 1 || entry.prev != self.head {
            return Err(fold_error(entry, &format!("does not follow seq {} of the organisation record", self.seq)));
        }
        let fail = |reason: &str| Err(fold_error(entry, reason));
        let changed = Changed { at: entry.at, seq: entry.seq };
        match event {
            OrgEvent::DeploymentCreated(_) => return fail("a deployment is created once"),
            OrgEvent::UserAdded(added) => {
                if self.users.contains_key(&added.user) {
                    return fail("the user already exists");
                }
                self.users.insert(
                    added.user.clone(),
                    User {
                        name: added.user.clone(),
                        display_name: added.display_name.clone(),
                        org_roles: BTreeSet::from([added.org_role]),
                        active: true,
                        password_set_at: None,
                        added_at: entry.at,
                        added_by: entry.actor.clone(),
                        identity: added.identity.clone(),
                        signed_in_at: None,
                        chat: BTreeMap::new(),
                        changed,
                        disabled: None,
                        contact: Contact::default(),
                    },
                );
                self.roles_changed.insert(added.org_role, changed);
            }
            OrgEvent::UserEnabled(enabled) => {
                let Some(user) = self.users.get_mut(&enabled.user) else { return fail("unknown user") };
                user.active = true;
                user.disabled = None;
                user.changed = changed;
            }
            OrgEvent::UserUpdated(updated) => {
                let Some(user) = self.users.get_mut(&updated.user) else { return fail("unknown user") };
                user.display_name = updated.display_name.clone();
                user.changed = changed;
            }
            OrgEvent::ContactSet(set) => {
                let Some(user) = self.users.get_mut(&set.user) else { return fail("unknown user") };
                user.contact =
                    Contact { email: set.email.clone(), webhook: set.webhook.clone(), mute: set.mute.clone() };
            }
            OrgEvent::SignedIn(signed_in) => {
                let Some(user) = self.users.get_mut(&signed_in.user) else { return fail("unknown user") };
                user.signed_in_at = Some(entry.at);
            }
            OrgEvent::SignedOut(signed_out) => {
                if !self.users.contains_key(&signed_out.user) {
                    return fail("unknown user");
                }
            }
            OrgEvent::UserDisabled(disabled) => {
                let Some(user) = self.users.get_mut(&disabled.user) else { return fail("unknown user") };
                user.active = false;
                user.disabled = Some(Disabled { by: entry.actor.clone(), reason: disabled.reason.clone() });
                user.changed = changed;
                for token in self.tokens.values_mut().filter(|t| t.user == disabled.user) {
                    token.revoked = true;
                }
                self.revoke_descendants();
            }
            OrgEvent::UserPasswordSet(set) => {
                let Some(user) = self.users.get_mut(&set.user) else { return fail("unknown user") };
                user.password_set_at = Some(entry.at);
            }
            OrgEvent::OrgRoleGranted(change) => {
                let Some(user) = self.users.get_mut(&change.user) else { return fail("unknown user") };
                user.org_roles.insert(change.role);
                user.changed = changed;
                self.roles_changed.insert(change.role, changed);
            }
            OrgEvent::OrgRoleRevoked(change) => {
                let Some(user) = self.users.get_mut(&change.user) else { return fail("unknown user") };
                user.org_roles.remove(&change.role);
                user.changed = changed;
                self.roles_changed.insert(change.role, changed);
            }
            OrgEvent::TokenIssued(issued) => {
                if !self.users.contains_key(&issued.user) {
                    return fail("unknown user");
                }
                self.tokens.insert(
                    issued.sha256.clone(),
                    Token {
                        id: issued.sha256.chars().take(12).collect(),
                        user: issued.user.clone(),
                        label: issued.label.clone(),
                        issued_at: entry.at,
                        expires_at: issued.expires_at,
                        revoked: false,
                        minted_by: issued.minted_by.as_ref().map(|parent| parent.chars().take(12).collect()),
                        parent: issued.minted_by.clone(),
                    },
                );
            }
            OrgEvent::TokenRevoked(revoked) => {
                let Some(token) = self.tokens.values_mut().find(|t| t.id == revoked.token && t.user == revoked.user)
                else {
                    return fail("unknown token");
                };
                token.revoked = true;
                self.revoke_descendants();
            }
            OrgEvent::PolicyReplaced(replaced) => {
                let policy = Policy::parse(&replaced.source)
                    .map_err(|error| fold_error(entry, &format!("the recorded policy does not load: {error}")))?;
                if policy.sha256 != replaced.sha256 {
                    return fail("the recorded policy does not match its sha256");
                }
                self.policy = policy;
            }
            OrgEvent::PlaybookAdded(added) => {
                self.playbooks.insert(
                    added.id.clone(),
                    PlaybookRecord {
                        id: added.id.clone(),
                        version: added.version.clone(),
                        sha256: added.sha256.clone(),
                        source: added.source.clone(),
                        added_at: entry.at,
                        added_by: entry.actor.clone(),
                    },
                );
            }
            OrgEvent::PartyRegistered(party) => {
                if self.parties.contains_key(&party.party) {
                    return fail("the party is already registered");
                }
                let record = PartyRecord {
                    party: party.clone(),
                    registered_at: entry.at,
                    updated_at: entry.at,
                    updated_by: entry.actor.clone(),
                };
                self.parties.insert(party.party.clone(), record);
            }
            OrgEvent::PartyUpdated(party) => {
                let Some(record) = self.parties.get_mut(&party.party) else { return fail("unknown party") };
                record.party = party.clone();
                record.updated_at = entry.at;
                record.updated_by = entry.actor.clone();
            }
            OrgEvent::ChatLinked(link) => {
                if self.linked(&link.system, &link.id).is_some() {
                    return fail("that chat identity is already linked");
                }
                let Some(user) = self.users.get_mut(&link.user) else { return fail("unknown user") };
                user.chat.insert(link.system.clone(), link.id.clone());
            }
            OrgEvent::ChatUnlinked(link) => {
                let Some(user) = self.users.get_mut(&link.user) else { return fail("unknown user") };
                if user.chat.get(&link.system) != Some(&link.id) {
                    return fail("that chat identity is not linked to this user");
                }
                user.chat.remove(&link.system);
            }
        }
        self.seq = entry.seq;
        self.head = entry.hash;
        self.updated_at = entry.at;
        Ok(())
    }

    pub fn user(&self, name: &UserName) -> Option<&User> {
        self.users.get(name)
    }

    /// Whether `name` is a user whose account is enabled.
    pub fn is_active(&self, name: &UserName) -> bool {
        self.users.get(name).is_some_and(|user| user.active)
    }

    /// The user a chat identity is linked to, whether or not their account is enabled.
    pub fn linked(&self, system: &str, id: &str) -> Option<&User> {
        self.users.values().find(|user| user.chat.get(system).is_some_and(|linked| linked == id))
    }

    /// Revokes every token created with a revoked one, and those created with them.
    fn revoke_descendants(&mut self) {
        loop {
            let revoked: BTreeSet<String> =
                self.tokens.iter().filter(|(_, t)| t.revoked).map(|(sha256, _)| sha256.clone()).collect();
            let mut changed = false;
            for token in self.tokens.values_mut().filter(|t| !t.revoked) {
                if token.parent.as_ref().is_some_and(|parent| revoked.contains(parent)) {
                    token.revoked = true;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// The user a token belongs to, if the token is known, unexpired, unrevoked and its user
    /// is active.
    pub fn authenticate(&self, token_sha256: &str, now: Timestamp) -> Option<&User> {
        let token = self.tokens.get(token_sha256).filter(|t| t.is_valid(now))?;
        self.users.get(&token.user).filter(|u| u.active)
    }
}

fn parse(entry: &Entry) -> Result<OrgEvent, FoldError> {
    OrgEvent::parse(&entry.kind, &entry.body).map_err(|error| fold_error(entry, &error.to_string()))
}

fn fold_error(entry: &Entry, reason: &str) -> FoldError {
    FoldError { seq: entry.seq, kind: entry.kind.clone(), reason: reason.to_owned() }
}
