//! `sitrep serve --demo`: a demo organisation and an incident in progress, so a newcomer sees a
//! working command centre at once.
//!
//! The story is a leaked cloud access key: found by secret scanning, used from an unknown
//! address, revoked on the technical lead's own authority (credential revocation needs one
//! person). The CloudTrail export and the scanning alert are evidence, one already downloaded
//! by legal; the managed-service provider that runs the deploy pipeline is engaged and holds a
//! live share link to the CloudTrail export (approved by legal and the commander); a customer
//! notice was approved by legal and the executive and published on the status page, and a
//! press holding statement waits on legal, its text on the approval card. Legal has determined
//! that personal data was affected, so the GDPR 72-hour clock runs and the notification to the
//! authority (its exact text bound) waits on the executive; approving it will not meet the
//! clock, recording the submission will. Legal also determined a significant incident (NIS2):
//! the early warning was sent and recorded with the CSIRT's reference, then the determination
//! was withdrawn with its basis, stopping the other NIS2 clocks. Everything is written through
//! the ledger, like any other action.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use sitrep_core::decide::SystemCommand;
use sitrep_core::decide::{Declare, IncidentCommand, Occurred, OrgCommand, genesis};
use sitrep_core::events::{ActionSpec, Audience, Contact, EvidenceRegistered, FactStatus, Party, PartyKind};
use sitrep_core::ids::StatementId;
use sitrep_core::{
    DecisionClass, FactId, IncidentNumber, OrgRole, Phase, RecordId, Role, Severity, Timestamp, UserName,
};
use sitrep_store::blobs::BlobStore;
use sitrep_store::datadir::{DataDir, new_token, random_bytes};
use sitrep_store::{Ledger, LedgerError, Receipt, Request, SqliteStore};

use crate::auth::hash_password;
use crate::serve::ServeError;

/// A demo user and how to sign in as them.
#[derive(Debug, Clone)]
pub struct DemoPerson {
    pub name: &'static str,
    pub display_name: &'static str,
    pub role: &'static str,
    pub password: String,
    pub token: String,
}

const PEOPLE: &[(&str, &str, &str)] = &[
    ("maria", "Maria Okafor", "commander"),
    ("tom", "Tom Reyes", "tech_lead"),
    ("lena", "Lena Fischer", "legal"),
    ("chris", "Chris Ahn", "comms"),
    ("eve", "Eve Marchetti", "executive"),
];

fn name(text: &str) -> Result<UserName, ServeError> {
    UserName::parse(text).map_err(|e| ServeError::Setup(e.to_string()))
}

fn role(text: &str) -> Result<Role, ServeError> {
    Role::parse(text).map_err(|e| ServeError::Setup(e.to_string()))
}

/// Creates the demo deployment: data directory, store and organisation record, with `admin`.
pub fn create(data: &Path) -> Result<DataDir, ServeError> {
    let dir = DataDir::create(data)?;
    let store = SqliteStore::open(&dir.database_path())?;
    let (_, sha256) = new_token()?;
    let events = genesis(uuid::Uuid::new_v4(), "Example Corp (demo)", &dir.public_key()?, &name("admin")?, &sha256);
    Ledger::create_deployment(&store, &events, sitrep_store::time::now())?;
    Ok(dir)
}

/// Adds the demo people and the incident in progress, story by story, in the order they
/// happened (the record's seqs follow it).
pub async fn seed(ledger: &Ledger, blobs: &BlobStore) -> Result<Vec<DemoPerson>, ServeError> {
    let people = add_people(ledger).await?;
    let demo = Demo::declare(ledger, blobs).await?;
    demo.leak().await?;
    let trail = demo.evidence().await?;
    demo.third_party(trail).await?;
    demo.statements().await?;
    // When legal became aware, for both determinations.
    let aware = sitrep_store::time::now().plus_seconds(-90 * 60);
    demo.gdpr(aware).await?;
    demo.nis2(aware).await?;
    demo.tasks().await?;
    Ok(people)
}

/// The demo people: each a member with a password and a token.
async fn add_people(ledger: &Ledger) -> Result<Vec<DemoPerson>, ServeError> {
    let admin = name("admin")?;
    let mut people = Vec::new();
    for (user, display_name, incident_role) in PEOPLE {
        let user_name = name(user)?;
        let add = OrgCommand::AddUser {
            user: user_name.clone(),
            display_name: Some((*display_name).into()),
            org_role: OrgRole::Member,
        };
        ledger.execute(&admin, Request::Org(add)).await?;
        let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<12>()?);
        let to_hash = password.clone();
        let phc = tokio::task::spawn_blocking(move || hash_password(&to_hash))
            .await
            .map_err(|e| ServeError::Setup(e.to_string()))??;
        ledger.execute(&admin, Request::SetPassword { user: user_name.clone(), phc }).await?;
        let (token, sha256) = new_token()?;
        let issue = OrgCommand::IssueToken {
            minted_by: None,
            user: user_name,
            sha256,
            expires_at: None,
            label: Some("demo".into()),
        };
        ledger.execute(&admin, Request::Org(issue)).await?;
        people.push(DemoPerson { name: user, display_name, role: incident_role, password, token });
    }
    Ok(people)
}

/// The demo incident, and what writes to it.
struct Demo<'a> {
    ledger: &'a Ledger,
    blobs: &'a BlobStore,
    incident: IncidentNumber,
}

/// A time `minutes` ago.
fn ago(minutes: i64) -> Timestamp {
    sitrep_store::time::now().plus_seconds(-minutes * 60)
}

/// A time `minutes` ago, logged only now for the reason `why`.
fn backfill(minutes: i64, why: &str) -> Option<Occurred> {
    Some(Occurred { at: ago(minutes), backfill_reason: Some(why.into()) })
}

/// An unverified fact from `source` that happened at `occurred` (now, if `None`).
fn fact_at(text: &str, source: &str, occurred: Option<Occurred>) -> IncidentCommand {
    IncidentCommand::LogFact {
        text: text.into(),
        source: Some(source.into()),
        status: FactStatus::Unverified,
        basis: None,
        occurred,
    }
}

/// An unverified fact from `source`, happening now.
fn fact(text: &str, source: &str) -> IncidentCommand {
    fact_at(text, source, None)
}

fn class(name: &str) -> Result<DecisionClass, ServeError> {
    DecisionClass::parse(name).map_err(|e| ServeError::Setup(e.to_string()))
}

/// A time `minutes` from now.
fn due(minutes: i64) -> Option<Timestamp> {
    Some(sitrep_store::time::now().plus_seconds(minutes * 60))
}

impl<'a> Demo<'a> {
    /// Declares the incident, with every demo role but the commander staffed.
    async fn declare(ledger: &'a Ledger, blobs: &'a BlobStore) -> Result<Demo<'a>, ServeError> {
        let maria = name("maria")?;
        let roles: BTreeMap<Role, UserName> =
            PEOPLE.iter().skip(1).map(|(user, _, r)| Ok((role(r)?, name(user)?))).collect::<Result<_, ServeError>>()?;
        let declare = Declare {
            title: "Leaked AWS access key in a public GitHub repository".into(),
            severity: Some(Severity::Sev2),
            scope: vec!["emea".into()],
            roles,
            ..Declare::default()
        };
        let receipt = ledger.execute(&maria, Request::Declare(declare)).await?;
        let RecordId::Incident(incident) = receipt.record else {
            return Err(ServeError::Setup("declaring the demo incident wrote to the organisation record".into()));
        };
        Ok(Demo { ledger, blobs, incident })
    }

    async fn act(&self, by: &UserName, command: IncidentCommand) -> Result<Receipt, LedgerError> {
        self.ledger.execute(by, Request::Incident { incident: self.incident, command }).await
    }

    /// The leak: triage, when it happened, the facts, a hand-over and back, and the key's
    /// revocation on the technical lead's own authority.
    async fn leak(&self) -> Result<(), ServeError> {
        let (maria, tom, lena) = (name("maria")?, name("tom")?, name("lena")?);
        self.act(&maria, IncidentCommand::SetPhase { phase: Phase::Triage }).await?;
        // When things happened, apart from when they are recorded: the key leaked, was flagged and
        // was recognised as an incident before anyone logged it, so each time carries its reason.
        self.act(
            &maria,
            IncidentCommand::RecordOccurrence {
                started_at: Some(ago(100)),
                first_seen_at: Some(ago(95)),
                detected_at: Some(ago(70)),
                backfill_reason: Some(
                    "Commit time from git, alert time from GitHub, detection when tom confirmed the key was live"
                        .into(),
                ),
            },
        )
        .await?;
        self.act(
            &tom,
            fact_at(
                "GitHub secret scanning flagged an AWS access key (AKIA…7QXZ, IAM user prod-deployer) committed to acme/infra-scripts",
                "GitHub secret scanning",
                backfill(95, "The alert's own time; it was logged after the key was confirmed live"),
            ),
        )
        .await?;
        self.act(
            &maria,
            IncidentCommand::VerifyFact {
                fact: FactId(1),
                basis: "Commit 9f3c2e1 is public and contains the key; confirmed with the repository owner".into(),
            },
        )
        .await?;
        self.act(
            &tom,
            fact_at(
                "CloudTrail shows the key calling s3:ListBuckets from 203.0.113.50, an address we do not use",
                "CloudTrail",
                backfill(84, "CloudTrail event time; CloudTrail delivers events minutes late"),
            ),
        )
        .await?;
        self.act(
            &tom,
            IncidentCommand::VerifyFact {
                fact: FactId(2),
                basis: "CloudTrail event 4d1f0a2b-… reviewed; source IP is not in our egress ranges".into(),
            },
        )
        .await?;
        self.act(&tom, fact("No IAM or EC2 changes by the key so far", "CloudTrail")).await?;
        self.act(
            &lena,
            fact("Buckets listed may hold customer invoices (EU customers); not yet confirmed", "Data inventory"),
        )
        .await?;
        // Command changes hands while maria briefs the executive, and comes back: two entries.
        self.act(
            &maria,
            IncidentCommand::HandOverCommand {
                to: tom.clone(),
                reason: "maria briefs the executive for 30 minutes; tom has the technical picture".into(),
            },
        )
        .await?;
        self.act(
            &tom,
            IncidentCommand::HandOverCommand { to: maria.clone(), reason: "maria is back from the briefing".into() },
        )
        .await?;
        self.act(&maria, IncidentCommand::SetPhase { phase: Phase::Containment }).await?;
        let revoke = IncidentCommand::Propose {
            class: DecisionClass::parse("credential_revocation").map_err(|e| ServeError::Setup(e.to_string()))?,
            title: "Deactivate and delete access key AKIA…7QXZ of prod-deployer".into(),
            rationale: Some("The key is public and has been used from an unknown address.".into()),
            actions: vec![ActionSpec::Task {
                title: "Rotate prod-deployer's credentials in the deploy pipeline".into(),
                owner_role: Some(role("tech_lead")?),
                due_in_minutes: Some(60),
            }],
            statement: None,
            clocks: Vec::new(),
        };
        self.act(&tom, revoke).await?;
        Ok(())
    }

    /// Evidence, one item already downloaded by legal; returns the CloudTrail export's SHA-256.
    async fn evidence(&self) -> Result<String, ServeError> {
        let (tom, lena) = (name("tom")?, name("lena")?);
        let incident = self.incident;
        // Evidence, one item already downloaded by legal: the start of its chain of custody.
        let trail = add_evidence(
            self.ledger,
            self.blobs,
            &tom,
            incident,
            "cloudtrail-prod-deployer-0247-0310.json",
            CLOUDTRAIL,
            "CloudTrail, us-east-1 (read-only export)",
        )
        .await?;
        add_evidence(
            self.ledger,
            self.blobs,
            &tom,
            incident,
            "github-secret-scanning-alert-4711.json",
            ALERT,
            "GitHub secret scanning",
        )
        .await?;
        self.act(
            &lena,
            IncidentCommand::AccessEvidence {
                sha256: trail.clone(),
                purpose: "Assess whether customer data was read (GDPR Art. 33)".into(),
            },
        )
        .await?;
        Ok(trail)
    }

    /// The provider that runs the deploy pipeline, and its share link to `trail`.
    async fn third_party(&self, trail: String) -> Result<(), ServeError> {
        let (admin, maria, lena) = (name("admin")?, name("maria")?, name("lena")?);
        let incident = self.incident;
        // The provider that runs the deploy pipeline: registered, engaged, and sent the log through
        // a link that legal and the commander approved.
        let msp = Party {
            party: "northwind-msp".into(),
            name: "Northwind Managed Services".into(),
            kind: PartyKind::Msp,
            contacts: vec![Contact {
                name: "Northwind SOC (24/7)".into(),
                role: Some("security operations".into()),
                email: Some("soc@northwind.example".into()),
                phone: Some("+44 20 7946 0958".into()),
            }],
            operates: Some("the deploy pipeline and its CI runners".into()),
            authority: vec![
                "may suspend their pipeline integration (MSA §7.2)".into(),
                "may revoke their access to production accounts".into(),
            ],
            sharing_rule: Some("logs for this incident only, through an approved share link".into()),
        };
        self.ledger.execute(&admin, Request::Org(OrgCommand::RegisterParty(msp))).await?;
        self.act(
            &maria,
            IncidentCommand::EngageParty {
                party: "northwind-msp".into(),
                reason: Some("the leaked key belongs to their deploy pipeline".into()),
            },
        )
        .await?;
        let share = IncidentCommand::Propose {
            class: class("evidence_sharing")?,
            title: "Send Northwind the CloudTrail export for the key's activity".into(),
            rationale: Some("They must confirm which of their runners held the key.".into()),
            actions: vec![ActionSpec::Share {
                party: "northwind-msp".into(),
                items: vec![trail],
                expires_in_hours: 72,
            }],
            statement: None,
            clocks: Vec::new(),
        };
        let proposed = self.act(&lena, share).await?;
        let sharing = crate::api::created(&proposed, "decision").map_err(|e| ServeError::Setup(e.to_string()))?;
        self.act(
            &maria,
            IncidentCommand::Approve { decision: sharing, note: Some("Only the export, nothing else.".into()) },
        )
        .await?;
        self.ledger
            .execute_system(incident, "worker", SystemCommand::RunShareAction { decision: sharing, action: 0 })
            .await?;
        Ok(())
    }

    /// The customer notice, approved and published, and the press holding statement.
    async fn statements(&self) -> Result<(), ServeError> {
        let (lena, chris) = (name("lena")?, name("chris")?);
        // A customer notice, approved by legal and the executive and published; a press holding
        // statement waiting on legal.
        let eve = name("eve")?;
        self.act(
            &chris,
            IncidentCommand::DraftStatement {
                audience: Audience::Customers,
                title: "Service notice: access key exposure".into(),
                text:
                    "At 02:47 UTC we found that a credential used by our deployment system had been published by mistake. \
                   We revoked it within the hour. We are checking whether any customer data was accessed and will update \
                   this notice by 12:00 UTC."
                        .into(),
            },
        )
        .await?;
        let notice = StatementId(1);
        let proposed = self
            .act(
                &chris,
                IncidentCommand::Propose {
                    class: class("customer_notification")?,
                    title: "Publish the service notice on the status page".into(),
                    rationale: None,
                    actions: Vec::new(),
                    statement: Some(notice),
                    clocks: Vec::new(),
                },
            )
            .await?;
        let approval = crate::api::created(&proposed, "decision").map_err(|e| ServeError::Setup(e.to_string()))?;
        self.act(
            &lena,
            IncidentCommand::Approve { decision: approval, note: Some("Says what we know, no more.".into()) },
        )
        .await?;
        self.act(&eve, IncidentCommand::Approve { decision: approval, note: None }).await?;
        self.act(
            &chris,
            IncidentCommand::PublishStatement {
                statement: notice,
                channel: "status page".into(),
                sha256: None,
                outlet_for: Vec::new(),
            },
        )
        .await?;
        self.act(
            &chris,
            IncidentCommand::DraftStatement {
                audience: Audience::Press,
                title: "Holding statement for press enquiries".into(),
                text: "We are aware of a security incident involving a deployment credential and are investigating. \
                   We will share more when we can."
                    .into(),
            },
        )
        .await?;
        self.act(
            &chris,
            IncidentCommand::Propose {
                class: class("external_statement")?,
                title: "Holding statement for press enquiries".into(),
                rationale: Some(
                    "Journalists may ask after the status page notice; we say what we know and no more.".into(),
                ),
                actions: Vec::new(),
                statement: Some(StatementId(2)),
                clocks: Vec::new(),
            },
        )
        .await?;
        Ok(())
    }

    /// GDPR: the personal data breach, its clock and the notification waiting on the executive.
    async fn gdpr(&self, aware: Timestamp) -> Result<(), ServeError> {
        let lena = name("lena")?;
        // Legal determines that personal data was affected: the GDPR 72-hour clock runs from when
        // we became aware, and the notification to the authority waits on the executive.
        self.act(
            &lena,
            IncidentCommand::RecordDetermination {
                determination: "personal_data_breach".into(),
                basis: "The listed buckets hold EU customers' invoices (names, addresses)".into(),
                aware_at: Some(aware),
            },
        )
        .await?;
        // The notification's text is drafted and bound to the decision, so the executive approves
        // exactly what goes to the authority; approving it is not sending it.
        self.act(
            &lena,
            IncidentCommand::DraftStatement {
                audience: Audience::Regulator,
                title: "Personal data breach notification (GDPR Art. 33)".into(),
                text: "Nature of the breach: a deployment access key was published and used from an unknown address \
                   to list storage buckets holding EU customers' invoices (names, postal addresses).\n\
                   Likely consequences: exposure of contact data; no payment data is stored in these buckets.\n\
                   Measures taken: the key was revoked within the hour; access logs are under review.\n\
                   Contact: Lena Fischer, Data Protection Officer."
                    .into(),
            },
        )
        .await?;
        self.act(
            &lena,
            IncidentCommand::Propose {
                class: class("regulatory_notification")?,
                title: "Notify the lead supervisory authority (GDPR Art. 33)".into(),
                rationale: Some("Invoices of EU customers may have been listed; we notify within 72 hours.".into()),
                actions: Vec::new(),
                statement: Some(StatementId(3)),
                clocks: vec!["gdpr_art33".into()],
            },
        )
        .await?;
        Ok(())
    }

    /// NIS2: the early warning sent and recorded, then the determination withdrawn.
    async fn nis2(&self, aware: Timestamp) -> Result<(), ServeError> {
        let (lena, eve) = (name("lena")?, name("eve")?);
        // NIS2: legal determined a significant incident, the early warning was approved, sent and
        // recorded with the CSIRT's reference; the CSIRT then agreed it is not significant, so legal
        // withdrew the determination and the remaining NIS2 clocks stopped, with the basis.
        self.act(
            &lena,
            IncidentCommand::RecordDetermination {
                determination: "significant_incident".into(),
                basis: "The deploy pipeline serves EU customers; disruption was possible".into(),
                aware_at: Some(aware),
            },
        )
        .await?;
        self.act(
            &lena,
            IncidentCommand::DraftStatement {
                audience: Audience::Regulator,
                title: "NIS2 early warning".into(),
                text:
                    "Early warning under NIS2 Art. 23(4)(a): a leaked deployment credential was used from an unknown \
                   address. We do not suspect unlawful or malicious acts with cross-border impact beyond this. \
                   Incident notification to follow within 72 hours."
                        .into(),
            },
        )
        .await?;
        let proposed = self
            .act(
                &lena,
                IncidentCommand::Propose {
                    class: class("regulatory_notification")?,
                    title: "Send the NIS2 early warning to the CSIRT".into(),
                    rationale: Some("Within 24 hours of awareness.".into()),
                    actions: Vec::new(),
                    statement: Some(StatementId(4)),
                    clocks: vec!["nis2_early_warning".into()],
                },
            )
            .await?;
        let warning = crate::api::created(&proposed, "decision").map_err(|e| ServeError::Setup(e.to_string()))?;
        let approved = self
            .act(&eve, IncidentCommand::Approve { decision: warning, note: Some("Send as drafted.".into()) })
            .await?;
        // Sent the moment it was approved (a submission is never before its approval).
        let sent_at = approved
            .entries
            .last()
            .map(|e| e.at)
            .ok_or_else(|| ServeError::Setup("the approval wrote nothing".into()))?;
        self.act(
            &lena,
            IncidentCommand::SubmitNotification {
                clock: "nis2_early_warning".into(),
                sent_at,
                authority: "National CSIRT".into(),
                channel: "CSIRT incident reporting portal".into(),
                reference: "CSIRT-2026-04417".into(),
                statement: StatementId(4),
                version: 1,
            },
        )
        .await?;
        self.act(
            &lena,
            IncidentCommand::WithdrawDetermination {
                determination: "significant_incident".into(),
                basis: "After the early warning the CSIRT agreed the incident is not significant under NIS2: no \
                   service was disrupted and no other member state is affected"
                    .into(),
            },
        )
        .await?;
        Ok(())
    }

    /// Two open tasks and a note.
    async fn tasks(&self) -> Result<(), ServeError> {
        let (maria, tom, lena) = (name("maria")?, name("tom")?, name("lena")?);
        self.act(
            &maria,
            IncidentCommand::CreateTask {
                title: "Review all CloudTrail activity by the key since 02:47 UTC".into(),
                owner: Some(tom.clone()),
                due: due(120),
            },
        )
        .await?;
        self.act(
            &maria,
            IncidentCommand::CreateTask {
                title: "Assess notification duties (GDPR Art. 33, contracts)".into(),
                owner: Some(lena.clone()),
                due: due(360),
            },
        )
        .await?;
        self.act(
            &maria,
            IncidentCommand::AddNote {
                text: "Bridge call at 04:00 UTC; next SITREP at 05:00 UTC.".into(),
                occurred: None,
            },
        )
        .await?;
        Ok(())
    }
}

/// Stores a demo evidence file and registers it as `by`; returns its SHA-256.
async fn add_evidence(
    ledger: &Ledger,
    blobs: &BlobStore,
    by: &UserName,
    incident: IncidentNumber,
    file: &str,
    content: &str,
    source: &str,
) -> Result<String, ServeError> {
    let setup = |e: sitrep_store::blobs::BlobError| ServeError::Setup(e.to_string());
    let mut upload = blobs.receive(content.len() as u64).await.map_err(setup)?;
    upload.write(content.as_bytes()).await.map_err(setup)?;
    let stored = upload.finish().await.map_err(setup)?;
    let command = IncidentCommand::RegisterEvidence(EvidenceRegistered {
        sha256: stored.sha256.clone(),
        size: stored.size,
        name: file.into(),
        declared_type: Some("application/json".into()),
        sniffed_type: crate::api::evidence::sniff(&stored.head),
        source: Some(source.into()),
        collected_by: Some(by.to_string()),
        collected_at: Some(sitrep_store::time::now().plus_seconds(-600)),
    });
    ledger.execute(by, Request::Incident { incident, command }).await?;
    Ok(stored.sha256)
}

const CLOUDTRAIL: &str = r#"{"Records": [
  {"eventTime": "02:58:11Z", "eventName": "ListBuckets", "sourceIPAddress": "203.0.113.50",
   "userIdentity": {"type": "IAMUser", "userName": "prod-deployer", "accessKeyId": "AKIA…7QXZ"}},
  {"eventTime": "03:02:40Z", "eventName": "GetBucketLocation", "sourceIPAddress": "203.0.113.50",
   "userIdentity": {"type": "IAMUser", "userName": "prod-deployer", "accessKeyId": "AKIA…7QXZ"}}
]}
"#;

const ALERT: &str = r#"{"number": 4711, "secret_type": "aws_access_key_id", "repository": "acme/infra-scripts",
 "commit": "9f3c2e1", "created_at": "02:47:03Z", "state": "open"}
"#;

/// Prints how to sign in as each demo person.
pub fn print(people: &[DemoPerson], base_url: &str) {
    println!("Demo organisation seeded. Sign in at {base_url} as:");
    println!();
    println!("  {:<7} {:<15} {:<10} {:<18} API token", "user", "name", "role", "password");
    for person in people {
        println!(
            "  {:<7} {:<15} {:<10} {:<18} {}",
            person.name, person.display_name, person.role, person.password, person.token
        );
    }
    println!();
    println!("For the CLI: export SITREP_URL={base_url} SITREP_TOKEN=<a token above>");
}

/// The demo's own webhook receiver, so `serve --demo` shows a signed action arriving without
/// any other service: it checks each delivery's signature and idempotency key as a real
/// receiver must, and lists what it received at `GET /demo/receiver`.
#[derive(Debug, Default)]
pub struct Receiver {
    secrets: std::collections::HashMap<String, String>,
    deliveries: parking_lot::Mutex<Vec<serde_json::Value>>,
}

impl Receiver {
    /// Points the demo's destinations and channels at this server's receiver, unless the
    /// configuration names them already.
    pub fn configure(config: &mut crate::config::Config) -> Result<std::sync::Arc<Receiver>, ServeError> {
        use crate::config::{Channel, CommandConfig, Destination};
        let base = config.base_url();
        let mut receiver = Receiver::default();
        let secret = || -> Result<String, ServeError> { Ok(hex::encode(random_bytes::<16>()?)) };
        for name in ["cloud-iam", "identity-provider"] {
            if !config.destinations.contains_key(name) {
                let key = secret()?;
                receiver.secrets.insert(name.to_owned(), key.clone());
                config.destinations.insert(
                    name.to_owned(),
                    Destination {
                        url: format!("{base}/demo/receiver/{name}"),
                        secret: Some(key),
                        secret_env: None,
                        timeout_secs: 10,
                    },
                );
            }
        }
        for name in ["incident-channel", "legal", "communications", "executives"] {
            if !config.channels.contains_key(name) {
                let key = secret()?;
                receiver.secrets.insert(name.to_owned(), key.clone());
                config.channels.insert(
                    name.to_owned(),
                    Channel::Webhook {
                        url: format!("{base}/demo/receiver/{name}"),
                        secret: Some(key),
                        secret_env: None,
                        timeout_secs: 10,
                    },
                );
            }
        }
        if !config.commands.contains_key("disable-service-account") {
            config.commands.insert(
                "disable-service-account".into(),
                CommandConfig { path: "/bin/true".into(), args: Vec::new(), timeout_secs: 10 },
            );
        }
        Ok(std::sync::Arc::new(receiver))
    }

    /// Checks and keeps one delivery; the answer says whether the signature held and whether
    /// the idempotency key was seen before (a retry, to be done once).
    pub fn receive(&self, name: &str, signature: &str, key: &str, body: &[u8]) -> (bool, serde_json::Value) {
        let expected = self.secrets.get(name).and_then(|secret| {
            let timestamp: i64 = signature.split(',').find_map(|part| part.strip_prefix("t="))?.parse().ok()?;
            let fresh = (sitrep_store::time::now().as_jiff().as_second() - timestamp).abs() < 300;
            let computed = crate::connectors::webhook::signature(secret, timestamp, body).ok()?;
            Some(fresh && crate::auth::same_secret(&computed, signature))
        });
        let valid = expected.unwrap_or(false);
        let mut deliveries = self.deliveries.lock();
        let duplicate = deliveries.iter().any(|d| d["idempotency_key"] == key && d["valid"] == true);
        let record = serde_json::json!({
            "receiver": name,
            "received_at": sitrep_store::time::now().to_string(),
            "valid": valid,
            "duplicate": duplicate,
            "idempotency_key": key,
            "body": serde_json::from_slice::<serde_json::Value>(body).unwrap_or(serde_json::Value::Null),
        });
        deliveries.push(record.clone());
        (valid, serde_json::json!({ "received": valid, "duplicate": duplicate }))
    }

    pub fn deliveries(&self) -> Vec<serde_json::Value> {
        self.deliveries.lock().clone()
    }
}

/// The receiver's two routes: what it got (`GET /demo/receiver`) and a delivery to one of its
/// destinations or channels (`POST /demo/receiver/{name}`, 401 when the signature is wrong).
pub fn receiver_routes<S: Clone + Send + Sync + 'static>(receiver: std::sync::Arc<Receiver>) -> axum::Router<S> {
    use axum::extract::{Path, State};
    use axum::response::IntoResponse;
    type Shared = State<std::sync::Arc<Receiver>>;
    async fn deliveries(State(receiver): Shared) -> axum::response::Response {
        axum::Json(serde_json::json!({ "deliveries": receiver.deliveries() })).into_response()
    }
    async fn receive(
        State(receiver): Shared,
        Path(name): Path<String>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::response::Response {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let signature = header(crate::connectors::webhook::SIGNATURE_HEADER);
        let (valid, answer) = receiver.receive(&name, &signature, &header("idempotency-key"), &body);
        let status = if valid { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNAUTHORIZED };
        (status, axum::Json(answer)).into_response()
    }
    axum::Router::new()
        .route("/demo/receiver", axum::routing::get(deliveries))
        .route("/demo/receiver/{name}", axum::routing::post(receive))
        .with_state(receiver)
}
