//! Judging endorsements against a rule: who counts for which role, and what is still missing.

use super::*;

/// One person standing behind a decision in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsement<'a> {
    pub user: &'a UserName,
    pub role: &'a Role,
    /// The rule's other roles the person held when endorsing: their one endorsement may stand
    /// for any one of these instead of `role`.
    pub also: &'a [Role],
}

/// The most of `roles` that different people can stand for at once, each person for one role
/// they may stand for: a maximum bipartite matching, found by augmenting paths.
pub(super) fn matched(roles: &[Role], stands_for: &[Vec<&Role>]) -> usize {
    fn augment(
        person: usize,
        roles: &[Role],
        stands_for: &[Vec<&Role>],
        taken_by: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for (index, role) in roles.iter().enumerate() {
            if seen[index] || !stands_for[person].contains(&role) {
                continue;
            }
            seen[index] = true;
            let free = match taken_by[index] {
                None => true,
                Some(other) => augment(other, roles, stands_for, taken_by, seen),
            };
            if free {
                taken_by[index] = Some(person);
                return true;
            }
        }
        false
    }
    let mut taken_by = vec![None; roles.len()];
    (0..stands_for.len())
        .filter(|person| augment(*person, roles, stands_for, &mut taken_by, &mut vec![false; roles.len()]))
        .count()
}

/// Who stands behind a decision, and how many of the rule's roles they cover.
pub(super) struct Tally<'a> {
    people: BTreeSet<&'a UserName>,
    stands_for: Vec<Vec<&'a Role>>,
    have: usize,
    needed: usize,
}

/// Where a proposed decision stands against its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub approved: bool,
    /// Distinct people behind it, the proposer included.
    pub people: usize,
    /// Roles whose holders can move it forward now.
    pub awaiting: Vec<Role>,
    /// What is still missing, in words: "legal has not approved yet".
    pub waiting_on: String,
}

impl Rule {
    /// Judges a decision by its proposer and endorsements (each person at most once).
    ///
    /// Which role each person stands for is not fixed by the order of endorsements: a person
    /// holding two of the rule's roles stands for whichever one the others leave open.
    pub fn progress(&self, proposer: &UserName, endorsements: &[Endorsement<'_>]) -> Progress {
        let rule_roles = self.approve.roles();
        let Tally { people, stands_for, have, needed } = self.tally(proposer, endorsements);
        let roles_met = have >= needed;
        let people_met = people.len() >= self.people as usize;
        let (awaiting, waiting_on): (Vec<Role>, String) = if !roles_met {
            // The roles whose holder would add an endorsement that counts.
            let missing: Vec<Role> = rule_roles
                .iter()
                .filter(|role| {
                    let mut more = stands_for.clone();
                    more.push(vec![*role]);
                    matched(rule_roles, &more) > have
                })
                .cloned()
                .collect();
            let short = needed - have;
            let words = match &self.approve {
                Approve::AllOf(_) if missing.len() == short => {
                    format!("{} {} not approved yet", join(&missing, "and"), verb(missing.len()))
                }
                Approve::AnyOf(_) => format!("no {} has approved yet", join(&missing, "or")),
                Approve::AllOf(_) | Approve::Quorum { .. } => {
                    format!("{short} more of {} must approve", list(&missing))
                }
            };
            (missing, words)
        } else if !people_met {
            let words = format!(
                "{} distinct people must endorse it and {} {} so far; another holder of {} must approve",
                self.people,
                people.len(),
                if people.len() == 1 { "has" } else { "have" },
                join(rule_roles, "or"),
            );
            (rule_roles.to_vec(), words)
        } else {
            (Vec::new(), String::new())
        };
        Progress { approved: roles_met && people_met, people: people.len(), awaiting, waiting_on }
    }

    /// Whether the rule is met: [`Rule::progress`] without working out what is missing, for the
    /// fold, which judges every recorded approval.
    pub fn is_met(&self, proposer: &UserName, endorsements: &[Endorsement<'_>]) -> bool {
        let tally = self.tally(proposer, endorsements);
        tally.have >= tally.needed && tally.people.len() >= self.people as usize
    }

    fn tally<'a>(&self, proposer: &'a UserName, endorsements: &[Endorsement<'a>]) -> Tally<'a> {
        let rule_roles = self.approve.roles();
        let mut people: BTreeSet<&UserName> = endorsements.iter().map(|e| e.user).collect();
        let stands_for: Vec<Vec<&Role>> = people
            .iter()
            .map(|user| {
                endorsements
                    .iter()
                    .filter(|e| e.user == *user)
                    .flat_map(|e| std::iter::once(e.role).chain(e.also))
                    .filter(|r| rule_roles.contains(r))
                    .collect()
            })
            .collect();
        people.insert(proposer);
        let have = matched(rule_roles, &stands_for);
        Tally { people, stands_for, have, needed: self.approve.needed() }
    }

    /// The role a person endorses: one of the rule's roles they hold, preferring one nobody has
    /// endorsed yet. `None` when they hold none of them.
    pub fn endorsement_role(&self, holds: &[Role], endorsed: &[&Role]) -> Option<Role> {
        let roles = self.approve.roles();
        roles
            .iter()
            .find(|r| holds.contains(r) && !endorsed.contains(r))
            .or_else(|| roles.iter().find(|r| holds.contains(r)))
            .cloned()
    }
}

pub(super) fn verb(count: usize) -> &'static str {
    if count == 1 { "has" } else { "have" }
}

pub(super) fn list(roles: &[Role]) -> String {
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(", ")
}

/// "a", "a and b", "a, b and c".
pub(super) fn join(roles: &[Role], word: &str) -> String {
    match roles {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {word} {last}", list(init)),
    }
}
