//! Changes to the organisation: its first entries, users, tokens, the policy, playbooks and
//! registered parties.

use super::*;

/// The first entries of a new deployment's organisation record.
pub fn genesis(deployment: Uuid, name: &str, public_key: &str, admin: &UserName, token_sha256: &str) -> Vec<OrgEvent> {
    let policy = Policy::default_policy();
    let playbooks = crate::playbook::BUILT_IN_PLAYBOOKS.iter().filter_map(|source| {
        // The built-in playbooks load under the built-in policy; a test keeps it so.
        Playbook::parse(source, &policy).ok().map(|p| {
            OrgEvent::PlaybookAdded(PlaybookAdded {
                id: p.id,
                version: p.version,
                sha256: p.sha256,
                source: (*source).to_owned(),
            })
        })
    });
    let mut events = vec![
        OrgEvent::DeploymentCreated(DeploymentCreated {
            deployment,
            name: name.to_owned(),
            public_key: public_key.to_owned(),
        }),
        OrgEvent::PolicyReplaced(PolicyReplaced { sha256: policy.sha256.clone(), source: policy.source.clone() }),
    ];
    events.extend(playbooks);
    events.push(OrgEvent::UserAdded(UserAdded {
        user: admin.clone(),
        display_name: None,
        org_role: OrgRole::Admin,
        identity: None,
    }));
    events.push(OrgEvent::TokenIssued(TokenIssued {
        user: admin.clone(),
        sha256: token_sha256.to_owned(),
        expires_at: None,
        label: Some("created by sitrep init".into()),
        minted_by: None,
    }));
    events
}

/// Decides one change to the organisation.
pub fn decide_org(
    org: &OrgState,
    by: &UserName,
    command: &OrgCommand,
    now: Timestamp,
) -> Result<Vec<OrgEvent>, Refusal> {
    let actor = acting_user(org, by)?;
    if let OrgCommand::ProvisionUser { .. } = command {
        return Err(forbidden("users", "only an identity provider's connector provisions users"));
    }
    decide_as(org, Some(by), actor.has(OrgRole::Admin), command, now)
}

/// Decides a change an identity connector (`system:oidc`, `system:scim`) asks for: it manages
/// users and their organisation roles with an admin's authority, under the same rules (the
/// last active admin stays), and nothing else.
pub fn decide_org_system(org: &OrgState, command: &OrgCommand, now: Timestamp) -> Result<Vec<OrgEvent>, Refusal> {
    use OrgCommand as C;
    match command {
        C::ProvisionUser { .. }
        | C::DisableUser { .. }
        | C::EnableUser { .. }
        | C::UpdateUser { .. }
        | C::SetContact { .. }
        | C::GrantOrgRole { .. }
        | C::RevokeOrgRole { .. } => decide_as(org, None, true, command, now),
        _ => Err(forbidden("users", "a connector may only manage users and their organisation roles")),
    }
}

/// Decides as `by` (a person) or, with `None`, as a connector.
fn decide_as(
    org: &OrgState,
    by: Option<&UserName>,
    is_admin: bool,
    command: &OrgCommand,
    now: Timestamp,
) -> Result<Vec<OrgEvent>, Refusal> {
    let admin_only = |what: &str| -> Result<(), Refusal> {
        if is_admin { Ok(()) } else { Err(forbidden("org_roles", format!("{what} needs the admin organisation role"))) }
    };
    let existing =
        |user: &UserName| org.user(user).ok_or_else(|| Refusal::NotFound(format!("there is no user '{user}'")));
    let active_admins = || org.users.values().filter(|u| u.active && u.has(OrgRole::Admin)).count();
    use OrgCommand as C;
    let events = match command {
        C::ReplacePolicy { .. } | C::AddPlaybook { .. } | C::RegisterParty(_) | C::UpdateParty(_) => {
            return configure(org, &admin_only, command);
        }
        C::AddUser { user, display_name, org_role } => {
            admin_only("adding users")?;
            if org.user(user).is_some() {
                return Err(conflict(format!("the user '{user}' already exists")));
            }
            vec![OrgEvent::UserAdded(UserAdded {
                user: user.clone(),
                display_name: optional_text("display_name", display_name, 100)?,
                org_role: *org_role,
                identity: None,
            })]
        }
        C::ProvisionUser { user, display_name, org_role, identity } => {
            if org.user(user).is_some() {
                return Err(conflict(format!("the user '{user}' already exists")));
            }
            let identity = ExternalIdentity {
                issuer: text("identity.issuer", &identity.issuer, SHORT_MAX)?,
                subject: text("identity.subject", &identity.subject, SHORT_MAX)?,
            };
            vec![OrgEvent::UserAdded(UserAdded {
                user: user.clone(),
                display_name: optional_text("display_name", display_name, 100)?,
                org_role: *org_role,
                identity: Some(identity),
            })]
        }
        C::EnableUser { user, reason } => {
            admin_only("enabling users")?;
            if existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is already enabled")));
            }
            vec![OrgEvent::UserEnabled(UserEnabled {
                user: user.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::UpdateUser { user, display_name } => {
            if by != Some(user) {
                admin_only("changing someone else's display name")?;
            }
            let display_name = optional_text("display_name", display_name, 100)?;
            if existing(user)?.display_name == display_name {
                return Err(conflict(format!("'{user}' already has that display name")));
            }
            vec![OrgEvent::UserUpdated(UserUpdated { user: user.clone(), display_name })]
        }
        C::SetContact { user, email, webhook, mute } => {
            if by != Some(user) {
                admin_only("changing someone else's contact routes")?;
            }
            let found = existing(user)?;
            let email = optional_text("email", email, SHORT_MAX)?;
            if let Some(email) = &email {
                email_address(email)?;
            }
            let webhook = optional_text("webhook", webhook, SHORT_MAX)?;
            if let Some(url) = &webhook
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(invalid("webhook", "a webhook is an http:// or https:// URL"));
            }
            let mut mute = mute.clone();
            mute.sort();
            mute.dedup();
            let contact = crate::org::Contact { email: email.clone(), webhook: webhook.clone(), mute: mute.clone() };
            if found.contact == contact {
                return Err(conflict(format!("'{user}' already has exactly these contact routes")));
            }
            vec![OrgEvent::ContactSet(ContactSet { user: user.clone(), email, webhook, mute })]
        }
        C::LinkChat { user, system, id } => {
            if by != Some(user) {
                return Err(forbidden(
                    "chat",
                    "only the person themself links their chat identity, with a code they asked for",
                ));
            }
            chat_system(system)?;
            let id = text("id", id, SHORT_MAX)?;
            if !existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is disabled")));
            }
            if let Some(holder) = org.linked(system, &id) {
                return Err(conflict(if &holder.name == user {
                    format!("{id} is already linked to you")
                } else {
                    format!("{id} is already linked to another sitrep user; they must unlink it first")
                }));
            }
            let mut events = Vec::new();
            // A new link replaces the old one in the same system: one identity per system.
            if let Some(old) = existing(user)?.chat.get(system.as_str()) {
                events.push(OrgEvent::ChatUnlinked(ChatLinked {
                    user: user.clone(),
                    system: system.clone(),
                    id: old.clone(),
                }));
            }
            events.push(OrgEvent::ChatLinked(ChatLinked { user: user.clone(), system: system.clone(), id }));
            events
        }
        C::UnlinkChat { user, system } => {
            if by != Some(user) {
                admin_only("unlinking someone else's chat identity")?;
            }
            let Some(id) = existing(user)?.chat.get(system.as_str()) else {
                return Err(Refusal::NotFound(format!("'{user}' has no linked {system} identity")));
            };
            vec![OrgEvent::ChatUnlinked(ChatLinked { user: user.clone(), system: system.clone(), id: id.clone() })]
        }
        C::RecordSignIn { session, authentication } => {
            let Some(by) = by else { return Err(forbidden("users", "only a person signs in")) };
            session_id(session)?;
            let authentication = Authentication {
                issuer: authentication.issuer.as_deref().map(|i| text("issuer", i, SHORT_MAX)).transpose()?,
                acr: authentication.acr.as_deref().map(|a| text("acr", a, SHORT_MAX)).transpose()?,
                amr: authentication.amr.iter().take(16).map(|m| text("amr", m, 64)).collect::<Result<_, _>>()?,
                ..authentication.clone()
            };
            vec![OrgEvent::SignedIn(SignedIn { user: by.clone(), session: session.clone(), authentication })]
        }
        C::RecordSignOut { user, session, reason } => {
            if by != Some(user) {
                admin_only("ending someone else's session")?;
            }
            existing(user)?;
            session_id(session)?;
            vec![OrgEvent::SignedOut(SignedOut {
                user: user.clone(),
                session: session.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::DisableUser { user, reason } => {
            admin_only("disabling users")?;
            let target = existing(user)?;
            // A connector may say again, with its own reason, that a disabled user is disabled
            // (an identity provider deleting an account it had deactivated); a person may not.
            if !target.active && by.is_some() {
                return Err(conflict(format!("the user '{user}' is already disabled")));
            }
            if target.active && target.has(OrgRole::Admin) && active_admins() == 1 {
                return Err(conflict("the last active admin cannot be disabled; make someone else admin first"));
            }
            vec![OrgEvent::UserDisabled(UserDisabled {
                user: user.clone(),
                reason: optional_text("reason", reason, SHORT_MAX)?,
            })]
        }
        C::GrantOrgRole { user, role } => {
            admin_only("granting organisation roles")?;
            if existing(user)?.has(*role) {
                return Err(conflict(format!("'{user}' already has the {role} organisation role")));
            }
            vec![OrgEvent::OrgRoleGranted(OrgRoleChange { user: user.clone(), role: *role })]
        }
        C::RevokeOrgRole { user, role } => {
            admin_only("revoking organisation roles")?;
            let target = existing(user)?;
            if !target.has(*role) {
                return Err(conflict(format!("'{user}' does not have the {role} organisation role")));
            }
            if *role == OrgRole::Admin && target.active && active_admins() == 1 {
                return Err(conflict("the last active admin keeps the admin role; make someone else admin first"));
            }
            vec![OrgEvent::OrgRoleRevoked(OrgRoleChange { user: user.clone(), role: *role })]
        }
        C::SetPassword { user } => {
            if by != Some(user) {
                admin_only("setting someone else's password")?;
            }
            if !existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is disabled")));
            }
            vec![OrgEvent::UserPasswordSet(UserPasswordSet { user: user.clone() })]
        }
        C::IssueToken { user, sha256, expires_at, label, minted_by } => {
            if by != Some(user) {
                admin_only("issuing tokens for someone else")?;
            }
            if expires_at.is_none() {
                admin_only("a token that never expires")?;
            }
            // A stolen token must not buy a credential that survives it: a token made with a
            // token expires no later than it, and the fold revokes it with it.
            if let Some(parent) = minted_by {
                let parent =
                    org.tokens.get(parent).filter(|t| Some(&t.user) == by && t.is_valid(now)).ok_or_else(|| {
                        forbidden("tokens", "the token this request came with is not a valid token of yours")
                    })?;
                if let Some(limit) = parent.expires_at
                    && expires_at.is_none_or(|expiry| expiry > limit)
                {
                    return Err(invalid(
                        "expires_at",
                        format!("a token created with another token cannot outlive it; that token expires at {limit}"),
                    ));
                }
            }
            if !existing(user)?.active {
                return Err(conflict(format!("the user '{user}' is disabled")));
            }
            if !is_sha256(sha256) {
                return Err(invalid("sha256", "must be 64 lower-case hex digits"));
            }
            if org.tokens.contains_key(sha256) {
                return Err(conflict("that token is already issued"));
            }
            if expires_at.is_some_and(|expiry| expiry <= now) {
                return Err(invalid("expires_at", "must be in the future"));
            }
            if let Some(expiry) = expires_at {
                date("expires_at", *expiry, now, When::Due)?;
            }
            vec![OrgEvent::TokenIssued(TokenIssued {
                user: user.clone(),
                sha256: sha256.clone(),
                expires_at: *expires_at,
                label: optional_text("label", label, 100)?,
                minted_by: minted_by.clone(),
            })]
        }
        C::RevokeToken { user, token } => {
            if by != Some(user) {
                admin_only("revoking someone else's tokens")?;
            }
            let found = org
                .tokens
                .values()
                .find(|t| &t.id == token && &t.user == user)
                .ok_or_else(|| Refusal::NotFound(format!("'{user}' has no token {token}")))?;
            if found.revoked {
                return Err(conflict(format!("token {token} is already revoked")));
            }
            vec![OrgEvent::TokenRevoked(TokenRevoked { user: user.clone(), token: token.clone() })]
        }
    };
    Ok(events)
}

/// The chat systems sitrep links identities of.
fn chat_system(system: &str) -> Result<(), Refusal> {
    match system {
        "matrix" | "slack" => Ok(()),
        _ => Err(invalid("system", "must be 'matrix' or 'slack'")),
    }
}

/// A session's public id: the first 12 hex digits of the SHA-256 of its secret.
fn session_id(session: &str) -> Result<(), Refusal> {
    if session.len() == 12 && session.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(invalid("session", "must be 12 lower-case hex digits"))
    }
}

/// Decides the organisation's configuration, which only admins change: the policy, playbooks
/// and registered parties.
fn configure(
    org: &OrgState,
    admin_only: &dyn Fn(&str) -> Result<(), Refusal>,
    command: &OrgCommand,
) -> Result<Vec<OrgEvent>, Refusal> {
    use OrgCommand as C;
    let events = match command {
        C::ReplacePolicy { source } => {
            admin_only("replacing the policy")?;
            let policy = Policy::parse(source).map_err(|error| invalid("policy", error.to_string()))?;
            if policy.sha256 == org.policy.sha256 {
                return Err(conflict("that policy is already in force"));
            }
            vec![OrgEvent::PolicyReplaced(PolicyReplaced { sha256: policy.sha256, source: policy.source })]
        }
        C::AddPlaybook { source } => {
            admin_only("adding playbooks")?;
            if source.len() > 256 * 1024 {
                return Err(invalid("source", "a playbook file is at most 256 KiB"));
            }
            let playbook =
                Playbook::parse(source, &org.policy).map_err(|error| invalid("playbook", error.to_string()))?;
            if org.playbooks.get(&playbook.id).is_some_and(|p| p.sha256 == playbook.sha256) {
                return Err(conflict(format!("playbook '{}' is already this file", playbook.id)));
            }
            vec![OrgEvent::PlaybookAdded(PlaybookAdded {
                id: playbook.id,
                version: playbook.version,
                sha256: playbook.sha256,
                source: source.clone(),
            })]
        }
        C::RegisterParty(party) => {
            admin_only("registering third parties")?;
            let party = checked_party(party)?;
            if org.parties.contains_key(&party.party) {
                return Err(conflict(format!("the party '{}' is already registered; update it instead", party.party)));
            }
            vec![OrgEvent::PartyRegistered(party)]
        }
        C::UpdateParty(party) => {
            admin_only("changing third parties")?;
            let party = checked_party(party)?;
            let Some(current) = org.parties.get(&party.party) else {
                return Err(Refusal::NotFound(format!("there is no registered party '{}'", party.party)));
            };
            if current.party == party {
                return Err(conflict(format!("the party '{}' already reads exactly so", party.party)));
            }
            vec![OrgEvent::PartyUpdated(party)]
        }
        _ => return Err(misrouted()),
    };
    Ok(events)
}

/// A party entry with every field checked.
fn checked_party(party: &Party) -> Result<Party, Refusal> {
    if !is_name(&party.party) {
        return Err(invalid("party", "a party id is 1-64 characters of a-z, 0-9, '-' and '_'"));
    }
    if party.contacts.len() > 20 || party.authority.len() > 20 {
        return Err(invalid("contacts", "a party has at most 20 contacts and 20 authority lines"));
    }
    let contacts = party
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |name: &str| format!("contacts[{i}].{name}");
            Ok(Contact {
                name: text(&field("name"), &c.name, 100)?,
                role: optional_text(&field("role"), &c.role, 100)?,
                email: optional_text(&field("email"), &c.email, 254)?,
                phone: optional_text(&field("phone"), &c.phone, 50)?,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    let authority = party
        .authority
        .iter()
        .enumerate()
        .map(|(i, line)| text(&format!("authority[{i}]"), line, SHORT_MAX))
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(Party {
        party: party.party.clone(),
        name: text("name", &party.name, TITLE_MAX)?,
        kind: party.kind,
        contacts,
        operates: optional_text("operates", &party.operates, SHORT_MAX)?,
        authority,
        sharing_rule: optional_text("sharing_rule", &party.sharing_rule, SHORT_MAX)?,
    })
}

/// An e-mail address as a mail server would take it: one `@`, something on each side, no
/// spaces or angle brackets that could smuggle a second address into a header.
fn email_address(address: &str) -> Result<(), Refusal> {
    let mut parts = address.split('@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c);
    if parts.next().is_some() || local.is_empty() || !domain.contains('.') || address.chars().any(bad) {
        return Err(invalid("email", format!("'{address}' is not an e-mail address")));
    }
    Ok(())
}
