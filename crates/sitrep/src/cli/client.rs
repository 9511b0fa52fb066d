//! The client commands' clap definitions: every user action, over the HTTP API.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// The commands that talk to a server, as the user named by the token.
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Save the server URL and a token for the client commands (asks for a password, or takes --token).
    Login(LoginArgs),
    /// Show who the client commands act as.
    Whoami,
    /// List the incidents you may see.
    Incidents {
        /// open, closed or all.
        #[arg(long, default_value = "open")]
        state: String,
        /// Only incidents where you hold a role.
        #[arg(long)]
        mine: bool,
    },
    /// Declare an incident.
    Declare(DeclareArgs),
    /// Print an incident's SITREP.
    Show { incident: String },
    /// Show an incident's phase in one line, or move it to PHASE.
    Status { incident: String, phase: Option<String> },
    /// Change an incident's severity.
    Severity {
        incident: String,
        severity: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Give someone a role on an incident (or take it away with --release).
    Assign {
        incident: String,
        role: String,
        user: String,
        #[arg(long)]
        release: bool,
        /// A local role in this org unit of the incident's scope (e.g. emea), for the `local`
        /// decision classes, instead of a central role.
        #[arg(long)]
        unit: Option<String>,
    },
    /// Hand command of an incident to USER: the commander role moves in one entry, with the
    /// reason. One person commands at a time.
    Handover {
        incident: String,
        user: String,
        /// Why command changes hands (it goes in the record).
        #[arg(long)]
        reason: String,
    },
    /// Log a fact.
    Log(LogArgs),
    /// Verify or disprove a fact.
    Fact {
        #[command(subcommand)]
        command: FactCommand,
    },
    /// Propose a decision.
    Propose(ProposeArgs),
    /// Approve a decision.
    Approve {
        incident: String,
        decision: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a decision, with the reason.
    Reject {
        incident: String,
        decision: String,
        #[arg(long)]
        note: String,
    },
    /// Withdraw a decision you proposed (or, as commander, any).
    Withdraw {
        incident: String,
        decision: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Create and work tasks.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Add a note to an incident's record.
    Note {
        incident: String,
        text: String,
        /// When what it says happened, if before now (RFC 3339).
        #[arg(long, value_name = "TIME")]
        occurred_at: Option<String>,
        /// Why it is noted only now; needed when --occurred-at is more than 15 minutes ago.
        #[arg(long, value_name = "WHY")]
        backfill_reason: Option<String>,
    },
    /// Record when the incident started, was first seen and was detected (RFC 3339 times),
    /// apart from when it was declared; without options, show them.
    Occurrence {
        incident: String,
        #[arg(long, value_name = "TIME")]
        started: Option<String>,
        #[arg(long, value_name = "TIME")]
        first_seen: Option<String>,
        #[arg(long, value_name = "TIME")]
        detected: Option<String>,
        /// Why the times are recorded only now; needed when one is more than 15 minutes ago.
        #[arg(long, value_name = "WHY")]
        backfill_reason: Option<String>,
    },
    /// List, show, add and start playbooks.
    Playbook {
        #[command(subcommand)]
        command: PlaybookCommand,
    },
    /// Run a failed action of an approved decision again.
    Retry {
        incident: String,
        decision: String,
        /// Which action, counting from 1.
        action: u32,
    },
    /// Print an incident's record, entry by entry.
    Record {
        incident: String,
        /// The first seq to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
    },
    /// Print an incident's new entries as they are written, until interrupted.
    Watch {
        incident: String,
        /// Start after this seq (0 replays the whole record); without it, only new entries.
        #[arg(long)]
        after: Option<u64>,
    },
    /// Record a determination (e.g. personal_data_breach, significant_incident, material); it
    /// starts the regulatory clocks the policy starts on it.
    Determine(DetermineArgs),
    /// An incident's determinations and regulatory clocks, with the time left on each.
    Clocks { incident: String },
    /// Record that a notification was sent to an authority: the one thing that meets a clock.
    Submit(SubmitArgs),
    /// Record that a clock's notification is not required, with the basis (legal); it stops unmet.
    NotRequired(ReleaseArgs),
    /// Withdraw a determination, with the basis (legal); its open clocks stop unmet.
    WithdrawDetermination(ReleaseArgs),
    /// The post-incident review: show it, record lessons, turn them into control changes,
    /// mark those done or cancelled, complete it (closing needs it).
    Review(ReviewArgs),
    /// Control changes from every review you may see, soonest due first.
    ControlChanges {
        /// open, done, cancelled or all.
        #[arg(long, default_value = "open", value_parser = ["open", "done", "cancelled", "all"])]
        state: String,
    },
    /// The post-incident report, generated from the record: Markdown (JSON with --json).
    Report {
        incident: String,
        /// Print Markdown (the default; --json prints the report as JSON instead).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// An incident's decisions, one per line; with --csv, the decision register as CSV, safe to
    /// open in a spreadsheet.
    Decisions(DecisionsArgs),
    /// Export an incident as one signed bundle file that `sitrep verify-bundle` checks offline.
    Export(ExportArgs),
    /// Print an incident's signed checkpoint (its record's size and Merkle root, signed by the
    /// deployment); keep it to check later bundles with `verify-bundle --checkpoint`.
    Checkpoint {
        incident: String,
        /// Write it to FILE instead of printing it.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Add evidence files, list them with their chain of custody, and download them.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// The third-party registry (admin), and engaging a party on an incident.
    Party {
        #[command(subcommand)]
        command: PartyCommand,
    },
    /// The share links that approved evidence_sharing decisions created: list and revoke them.
    Share {
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Draft, revise, approve and publish external statements.
    Statement {
        #[command(subcommand)]
        command: StatementCommand,
    },
    /// Add users (admin).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Create and revoke API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Your user name (asked for when missing and no --token is given).
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from standard input instead of asking.
    #[arg(long)]
    pub password_stdin: bool,
    /// Days until the new token expires.
    #[arg(long)]
    pub days: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct DeclareArgs {
    pub title: String,
    /// sev1 (worst) to sev4.
    #[arg(long)]
    pub severity: String,
    /// Need-to-know: only participants see it.
    #[arg(long)]
    pub restricted: bool,
    /// A drill: connectors run dry.
    #[arg(long)]
    pub exercise: bool,
    /// An org unit in scope (repeatable).
    #[arg(long)]
    pub scope: Vec<String>,
    /// Staff a role at once: role=user (repeatable).
    #[arg(long = "role", value_name = "ROLE=USER")]
    pub roles: Vec<String>,
    /// Start this playbook at once.
    #[arg(long)]
    pub playbook: Option<String>,
    /// A playbook input: name=value (repeatable).
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    pub incident: String,
    pub text: String,
    #[arg(long)]
    pub source: Option<String>,
    /// unverified (default), verified or disproved; the last two need --basis.
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub basis: Option<String>,
    /// When it happened, if before now (RFC 3339, e.g. 2026-11-27T02:47:00Z).
    #[arg(long, value_name = "TIME")]
    pub occurred_at: Option<String>,
    /// Why it is logged only now; needed when --occurred-at is more than 15 minutes ago.
    #[arg(long, value_name = "WHY")]
    pub backfill_reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FactCommand {
    Verify {
        incident: String,
        fact: String,
        #[arg(long)]
        basis: String,
    },
    Disprove {
        incident: String,
        fact: String,
        #[arg(long)]
        basis: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    pub incident: String,
    /// A decision class, e.g. containment or external_statement.
    pub class: String,
    pub title: String,
    #[arg(long)]
    pub rationale: Option<String>,
    /// An action to execute once approved, as JSON, e.g. '{"connector":"task","title":"Rotate"}' (repeatable).
    #[arg(long = "action", value_name = "JSON")]
    pub actions: Vec<String>,
    /// A regulatory clock the notification it approves is for, e.g. nis2_final_report
    /// (repeatable); a submission of its text may then meet only those. Without any, any clock
    /// of its class. Approving never meets a clock: `sitrep submit` does.
    #[arg(long = "clock", value_name = "NAME")]
    pub clocks: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    pub incident: String,
    /// The clock it meets, e.g. gdpr_art33.
    pub clock: String,
    /// The approved statement sent, ST-<n>.
    #[arg(long)]
    pub statement: String,
    /// Its version (the approved one that was sent).
    #[arg(long)]
    pub version: u32,
    /// To whom: the supervisory authority, CSIRT or regulator.
    #[arg(long)]
    pub authority: String,
    /// Through what: a portal, an address, a form.
    #[arg(long)]
    pub channel: String,
    /// The authority's reference for the submission.
    #[arg(long)]
    pub reference: String,
    /// When it was sent (RFC 3339); now if left out.
    #[arg(long, value_name = "TIME")]
    pub sent_at: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    pub incident: String,
    /// The clock (not-required) or the determination (withdraw-determination).
    pub name: String,
    /// Why; it goes in the record.
    #[arg(long)]
    pub basis: String,
}

#[derive(Debug, Args)]
pub(crate) struct DetermineArgs {
    pub incident: String,
    /// A determination of the policy: personal_data_breach, significant_incident, material.
    pub determination: String,
    /// What it rests on.
    #[arg(long)]
    pub basis: String,
    /// When we became aware, if before now (RFC 3339, e.g. 2026-11-27T03:10:00Z); the clocks
    /// run from it.
    #[arg(long, value_name = "TIME")]
    pub aware_at: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ReviewArgs {
    #[command(subcommand)]
    pub command: Option<ReviewCommand>,
    /// Show this incident's review (the same as `review show INC-n`).
    #[arg(required = true, value_name = "INCIDENT")]
    pub incident: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReviewCommand {
    /// The review: its lessons, each with its control changes, and whether it is complete.
    Show { incident: String },
    /// Record a lesson: what happened, why, and what we change.
    Lesson {
        incident: String,
        /// What happened.
        #[arg(long)]
        what: String,
        /// Why it happened.
        #[arg(long)]
        why: String,
        /// What we change because of it.
        #[arg(long)]
        change: String,
    },
    /// Turn a lesson into a control change with an owner, a due date and a NIST CSF 2.0 reference.
    Change {
        incident: String,
        /// L-<n>
        lesson: String,
        #[arg(long)]
        title: String,
        /// Who carries it out (a user name).
        #[arg(long, value_name = "USER")]
        owner: String,
        /// When it is due: a date (2027-01-31, meaning the end of that day, UTC) or a time with
        /// its zone (2027-01-31T17:00Z, 2027-01-31T17:00:00+01:00).
        #[arg(long, value_name = "DATE")]
        due: String,
        /// A NIST CSF 2.0 subcategory, e.g. PR.AA-05.
        #[arg(long, value_name = "SUBCATEGORY")]
        csf: String,
    },
    /// Mark a control change done (its owner, or a holder of the review rule); works after close.
    Done {
        incident: String,
        /// CC-<n>
        change: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Cancel a control change, with the reason; works after close.
    Cancel {
        incident: String,
        /// CC-<n>
        change: String,
        /// Why it is cancelled.
        #[arg(long)]
        note: String,
    },
    /// Complete the review: every lesson must have a control change. Closing needs it.
    Complete {
        incident: String,
        #[arg(long)]
        summary: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DecisionsArgs {
    pub incident: String,
    /// The decision register as CSV: one row per proposal, approval, rejection and withdrawal;
    /// cells a spreadsheet would read as a formula start with '.
    #[arg(long)]
    pub csv: bool,
    /// Write the CSV to FILE instead of printing it.
    #[arg(short, long, value_name = "FILE", requires = "csv")]
    pub output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TaskCommand {
    /// Create a task.
    Add {
        incident: String,
        title: String,
        #[arg(long)]
        owner: Option<String>,
        /// UTC, e.g. 2026-11-27T18:00:00.000000Z
        #[arg(long)]
        due: Option<String>,
    },
    Assign {
        incident: String,
        task: String,
        owner: String,
    },
    Done {
        incident: String,
        task: String,
        #[arg(long)]
        note: Option<String>,
    },
    Block {
        incident: String,
        task: String,
        #[arg(long)]
        reason: String,
    },
    Cancel {
        incident: String,
        task: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PlaybookCommand {
    /// The organisation's playbooks.
    List,
    /// One playbook, with its file.
    Show { playbook: String },
    /// Add or replace a playbook from a file (admin); errors name the line and column.
    Add { file: std::path::PathBuf },
    /// Start a playbook on an incident.
    Run {
        incident: String,
        playbook: String,
        /// name=value (repeatable).
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Upload a file as evidence (streamed, with a progress bar on a terminal); prints its
    /// SHA-256, size and name.
    Add(EvidenceAddArgs),
    /// An incident's evidence, each item with its chain of custody.
    List { incident: String },
    /// Download an item to a file, recording why in its chain of custody. The file is kept only
    /// when what was written hashes to SHA256.
    Get {
        incident: String,
        /// The item's SHA-256, as `evidence list` shows it.
        sha256: String,
        /// Why you are downloading it; recorded with your name and the time.
        #[arg(long)]
        purpose: String,
        /// Where to write it [default: the item's name, made safe, in the current directory].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct EvidenceAddArgs {
    pub incident: String,
    /// The file to upload; it is streamed, never read whole into memory.
    pub file: PathBuf,
    /// Where it came from, e.g. "AWS CloudTrail export".
    #[arg(long)]
    pub source: Option<String>,
    /// Who collected it, when that is not you.
    #[arg(long, value_name = "WHO")]
    pub collected_by: Option<String>,
    /// When it was collected, RFC 3339, e.g. 2026-11-27T03:10:00Z.
    #[arg(long, value_name = "TIME")]
    pub collected_at: Option<String>,
    /// The name to record [default: the file's name]. Metadata only: it never names a file on the server.
    #[arg(long)]
    pub name: Option<String>,
    /// The media type to declare [default: guessed from the extension, else application/octet-stream].
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
}

/// The kinds of third party the registry knows.
pub(crate) const PARTY_KINDS: [&str; 6] =
    ["msp", "cloud_operator", "vendor", "regulator", "law_enforcement", "counsel"];

#[derive(Debug, Subcommand)]
pub(crate) enum PartyCommand {
    /// Register a third party (admin).
    Add(PartyAddArgs),
    /// Change a registered party (admin): the fields given replace theirs, the others stay.
    Update(PartyUpdateArgs),
    /// The registry: every party with its contacts, what they operate and our authority.
    List,
    /// Engage a registered party on an incident.
    Engage {
        incident: String,
        party: String,
        /// Why they are engaged.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// The party fields both `add` and `update` take.
#[derive(Debug, Args)]
pub(crate) struct PartyDetails {
    /// A contact point: "NAME [(ROLE)] [<EMAIL>] [PHONE]", e.g.
    /// "Dana Reyes (account manager) <dana@acme.example> +44 20 7946 0000"; the phone is
    /// everything from the first word that starts with + or a digit. Or a JSON object
    /// {"name", "role", "email", "phone"}. Repeatable; on update, the contacts given replace all.
    #[arg(long = "contact", value_name = "CONTACT", verbatim_doc_comment)]
    pub contacts: Vec<String>,
    /// What they operate for us, e.g. "endpoint management".
    #[arg(long)]
    pub operates: Option<String>,
    /// Contractual authority we hold over them, one per flag, e.g. "may suspend their integration".
    /// Repeatable; on update, the lines given replace all.
    #[arg(long = "authority", value_name = "TEXT")]
    pub authority: Vec<String>,
    /// Their evidence-sharing rule, in words.
    #[arg(long)]
    pub sharing_rule: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PartyAddArgs {
    /// The party's id: a-z, 0-9, '-' and '_', e.g. acme-msp.
    pub party: String,
    /// Their name, e.g. "Acme Managed Services".
    #[arg(long)]
    pub name: String,
    /// What they are to us.
    #[arg(long, value_parser = PARTY_KINDS)]
    pub kind: String,
    #[command(flatten)]
    pub details: PartyDetails,
}

#[derive(Debug, Args)]
pub(crate) struct PartyUpdateArgs {
    pub party: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_parser = PARTY_KINDS)]
    pub kind: Option<String>,
    #[command(flatten)]
    pub details: PartyDetails,
    /// Remove every contact.
    #[arg(long, conflicts_with = "contacts")]
    pub no_contacts: bool,
    /// Remove every line of authority.
    #[arg(long, conflicts_with = "authority")]
    pub no_authority: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShareCommand {
    /// An incident's share links: party, items, expiry, uses, whether live, and the link.
    List { incident: String },
    /// Revoke a share link; it stops working at once.
    Revoke {
        incident: String,
        /// SH-<n>
        share: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

/// The audiences a statement is written for.
pub(crate) const AUDIENCES: [&str; 5] = ["internal", "customers", "regulator", "press", "partners"];

#[derive(Debug, Subcommand)]
pub(crate) enum StatementCommand {
    /// Draft a statement (its version 1).
    Draft {
        incident: String,
        #[arg(long, value_parser = AUDIENCES)]
        audience: String,
        #[arg(long)]
        title: String,
        #[command(flatten)]
        text: StatementText,
    },
    /// Revise a statement: a new version, which needs its own approval.
    Revise {
        incident: String,
        /// ST-<n>
        statement: String,
        #[command(flatten)]
        text: StatementText,
    },
    /// An incident's statements: latest version, approval and publications.
    List {
        incident: String,
        /// Print each latest version's text too.
        #[arg(long)]
        text: bool,
    },
    /// Ask for approval: propose a decision of the class the statement's audience needs, bound
    /// to its latest version's text.
    #[command(visible_alias = "approve-request")]
    Propose {
        incident: String,
        /// ST-<n>
        statement: String,
        /// The decision's title [default: the statement's title, audience and version].
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        rationale: Option<String>,
    },
    /// Publish the latest version; refused unless an approved decision is bound to exactly the
    /// text this command reads first.
    Publish {
        incident: String,
        /// ST-<n>
        statement: String,
        /// Where it goes out, e.g. "status page" or "customer email".
        #[arg(long)]
        channel: String,
    },
}

/// A statement's text: given inline or read from a file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct StatementText {
    /// The text.
    #[arg(long)]
    pub text: Option<String>,
    /// A file holding the text, used exactly as it is (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user (admin); --password-stdin sets a password for signing in.
    Add {
        name: String,
        /// admin, member, viewer or auditor.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token (for yourself, or as admin for --user); it is printed once.
    Create {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        days: Option<u64>,
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke {
        id: String,
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    pub incident: String,
    /// The bundle file to write (a tar archive).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Include the evidence files; each is recorded in its chain of custody (needs --purpose).
    #[arg(long)]
    pub blobs: bool,
    /// Why the evidence files are exported; recorded as "export: WHY" for each.
    #[arg(long, value_name = "WHY", requires = "blobs")]
    pub purpose: Option<String>,
    /// Export only these entries, e.g. 3,7 (an excerpt), each with an inclusion proof.
    #[arg(long, value_delimiter = ',', value_name = "SEQ,…")]
    pub entries: Vec<u64>,
    /// Add a consistency proof from the record's first N entries (the size of a checkpoint you hold).
    #[arg(long, value_name = "N")]
    pub since: Option<u64>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}
