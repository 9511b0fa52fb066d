//! The post-incident review, regulatory clocks, local roles and the post-incident report through
//! the real `sitrep` binary against a real `sitrep serve`.

use crate::support;

use serde_json::{Value, json};
use support::{Cli, Server, date_in};

/// An organisation with its admin's client and a client per member named, each holding a token.
fn organisation(names: &[&str]) -> (Server, Vec<Cli>) {
    let (server, admin_token) = Server::init("root");
    let admin = server.cli(&admin_token);
    let people = names
        .iter()
        .map(|name| {
            admin.run(&["user", "add", name, "--role", "member"]).ok();
            let created = admin.run(&["token", "create", "--user", name]);
            let token = created.ok().lines().last().expect("the token is printed last").to_owned();
            server.cli(&token)
        })
        .collect();
    (server, people)
}

/// The line of `text` that starts with `start`.
fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"))
}

/// The element of `array` whose `key` is `value`.
fn find<'a>(array: &'a Value, key: &str, value: &str) -> &'a Value {
    array
        .as_array()
        .and_then(|all| all.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {array:#}"))
}

#[test]
fn a_review_from_lessons_to_control_changes_that_outlive_the_incident() {
    let (_server, people) = organisation(&["maria", "tom", "eve"]);
    let [maria, tom, eve] = [&people[0], &people[1], &people[2]];
    maria.run(&["declare", "Ransomware on a file server", "--severity", "sev1", "--role", "tech_lead=tom"]).ok();
    maria.run(&["assign", "INC-1", "executive", "eve"]).ok();

    assert_eq!(maria.run(&["review", "INC-1"]).ok(), "The review of INC-1 is not complete: no lessons yet.\n");
    let none = maria.run(&["review", "complete", "INC-1", "--summary", "Nothing to learn"]).fails(5).to_owned();
    assert_eq!(none, "sitrep: record at least one lesson before completing the review");
    let refused =
        eve.run(&["review", "lesson", "INC-1", "--what", "w", "--why", "y", "--change", "c"]).fails(3).to_owned();
    assert!(refused.contains("refused by the policy (actions.review)"), "{refused}");

    let first = tom.run(&[
        "review",
        "lesson",
        "INC-1",
        "--what",
        "Backups were reachable from the file server",
        "--why",
        "One flat network for servers and backups",
        "--change",
        "Separate the backup network",
    ]);
    assert!(first.ok().starts_with("Recorded L-1 on INC-1;"), "{}", first.stdout);
    let second = tom
        .run(&[
            "--json",
            "review",
            "lesson",
            "INC-1",
            "--what",
            "Nobody was paged for four hours",
            "--why",
            "The EDR alert went to a shared mailbox",
            "--change",
            "Page the on-call responder on EDR alerts",
        ])
        .json();
    assert_eq!(second["id"], "L-2");
    assert_eq!(second["why"], "The EDR alert went to a shared mailbox");

    let far = date_in(400);
    let planned = tom.run(&[
        "review",
        "change",
        "INC-1",
        "L-1",
        "--title",
        "Backup network segmented",
        "--owner",
        "tom",
        "--due",
        &format!("{far}T17:00Z"),
        "--csf",
        "PR.IR-01",
    ]);
    assert_eq!(
        planned.ok(),
        format!("Planned CC-1 on INC-1 for L-1: owner tom, due {far}T17:00:00.000000Z, CSF PR.IR-01.\n")
    );
    // Wrong input is refused: locally for a date nobody can read, by the server for the rest.
    let change = |lesson: &str, due: &str, csf: &str| {
        let args =
            ["review", "change", "INC-1", lesson, "--title", "T", "--owner", "maria", "--due", due, "--csf", csf];
        maria.run(&args)
    };
    assert!(change("L-2", "next friday", "DE.CM-01").fails(2).contains("--due next friday"));
    assert!(change("L-2", "2037-01-31T17:00", "DE.CM-01").fails(2).contains("with its zone"));
    assert!(change("L-2", "2027-01-31", "XX.YY-01").fails(6).contains("csf"));
    assert!(change("L-9", "2027-01-31", "DE.CM-01").fails(4).contains("L-9"));

    // Completing with a lesson that has no control change: refused with the server's reason.
    let unconverted = maria.run(&["review", "complete", "INC-1", "--summary", "Done"]).fails(5).to_owned();
    assert_eq!(unconverted, "sitrep: every lesson becomes at least one control change; L-2 has none yet");
    let shown = maria.run(&["review", "INC-1"]);
    let shown = shown.ok();
    assert!(shown.starts_with("The review of INC-1 is not complete: L-2 has no control change yet.\n"), "{shown}");
    assert!(line(shown, "L-1 ").contains("Backups were reachable from the file server (by tom at "), "{shown}");
    assert!(shown.contains("      why: One flat network for servers and backups\n"), "{shown}");
    assert!(shown.contains("      we change: Separate the backup network\n"), "{shown}");
    assert!(
        shown.contains(&format!(
            "      CC-1 Backup network segmented — owner tom, due {far}T17:00:00.000000Z, CSF PR.IR-01, open\n"
        )),
        "{shown}"
    );

    // One change already overdue (due in the past), one to cancel.
    let overdue = date_in(-30);
    change("L-2", &overdue, "DE.AE-02").ok();
    change("L-2", &date_in(500), "DE.CM-01").ok();
    let cancelled = maria.run(&["review", "cancel", "INC-1", "CC-3", "--note", "CC-2 covers it"]);
    assert_eq!(cancelled.ok(), "CC-3 on INC-1 is cancelled.\n");
    maria.run(&["review", "cancel", "INC-1", "CC-3", "--note", "again"]).fails(5);
    assert!(
        maria
            .run(&["review", "show", "INC-1"])
            .ok()
            .contains(&format!("CC-2 T — owner maria, due {overdue}T23:59:59.000000Z, CSF DE.AE-02, open OVERDUE"))
    );

    let summary = "Segment backups and page on EDR alerts; the restore took a day, not a week";
    let completed = maria.run(&["review", "complete", "INC-1", "--summary", summary]);
    assert_eq!(completed.ok(), "The review of INC-1 is complete: 2 lesson(s), 3 control change(s).\n");
    assert!(maria.run(&["review", "complete", "INC-1", "--summary", "again"]).fails(5).contains("final"));
    let review = maria.run(&["review", "INC-1", "--json"]).json();
    assert_eq!(review["completed"]["summary"], summary);
    assert_eq!(review["completed"]["by"], "maria");
    assert_eq!(find(&review["control_changes"], "id", "CC-3")["state"], "cancelled");
    assert_eq!(find(&review["control_changes"], "id", "CC-3")["closed"]["text"], "CC-2 covers it");
    assert!(maria.run(&["review", "INC-1"]).ok().starts_with("The review of INC-1 was completed by maria at "));

    // Organisation-wide, soonest due first, the overdue one marked.
    let open = maria.run(&["control-changes"]);
    let rows: Vec<&str> = open.ok().lines().collect();
    assert_eq!(rows.len(), 2, "{}", open.stdout);
    assert!(rows[0].starts_with("INC-1   CC-2  open") && rows[0].contains(" OVERDUE"), "{}", open.stdout);
    assert!(rows[1].starts_with("INC-1   CC-1  open") && !rows[1].contains("OVERDUE"), "{}", open.stdout);
    assert!(rows[1].contains("Backup network segmented  (Ransomware on a file server)"), "{}", open.stdout);
    let cancelled = maria.run(&["control-changes", "--state", "cancelled", "--json"]).json();
    let ids: Vec<&str> =
        cancelled["control_changes"].as_array().expect("array").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["CC-3"]);
    assert_eq!(maria.run(&["control-changes", "--state", "someday"]).code, Some(2), "a state clap does not know");

    // Close; the control changes stay tracked, and their owners (or a reviewer) finish them.
    maria.run(&["propose", "INC-1", "close", "Restored; backups segmented"]).ok();
    eve.run(&["approve", "INC-1", "D-1"]).ok();
    assert!(maria.run(&["status", "INC-1"]).ok().contains("phase closed"));
    assert!(
        maria
            .run(&["review", "lesson", "INC-1", "--what", "w", "--why", "y", "--change", "c"])
            .fails(5)
            .contains("INC-1")
    );
    assert_eq!(tom.run(&["review", "done", "INC-1", "CC-1", "--note", "VLANs split"]).ok(), "CC-1 on INC-1 is done.\n");
    eve.run(&["review", "done", "INC-1", "CC-2"]).fails(3);
    assert_eq!(maria.run(&["review", "done", "INC-1", "CC-2"]).ok(), "CC-2 on INC-1 is done.\n");
    assert_eq!(maria.run(&["control-changes"]).ok(), "No open control changes.\n");
    let done = maria.run(&["control-changes", "--state", "done"]);
    assert_eq!(done.ok().lines().count(), 2, "{}", done.stdout);
    assert!(line(done.ok(), "INC-1   CC-1").contains("done"), "{}", done.stdout);
    assert_eq!(
        maria.run(&["control-changes", "--state", "all", "--json"]).json()["control_changes"].as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn determinations_start_clocks_that_only_recorded_submissions_meet() {
    let (_server, people) = organisation(&["maria", "lena", "eve"]);
    let [maria, lena, eve] = [&people[0], &people[1], &people[2]];
    maria
        .run(&[
            "declare",
            "Customer database copied",
            "--severity",
            "sev1",
            "--role",
            "legal=lena",
            "--role",
            "executive=eve",
        ])
        .ok();
    assert_eq!(maria.run(&["clocks", "INC-1"]).ok(), "No regulatory clocks on INC-1.\n");

    // Aware 80 hours ago: GDPR's 72 hours ran out 8 hours ago.
    let aware =
        jiff::Timestamp::from_second(sitrep_testing::system_now().as_jiff().as_second() - 80 * 3600).expect("a time");
    let aware = aware.to_string();
    let gdpr = lena.run(&[
        "determine",
        "INC-1",
        "personal_data_breach",
        "--basis",
        "The copied table holds names and e-mail addresses",
        "--aware-at",
        &aware,
    ]);
    let gdpr = gdpr.ok();
    assert!(gdpr.starts_with("Recorded personal_data_breach on INC-1; it starts:\ngdpr_art33 "), "{gdpr}");
    assert!(line(gdpr, "gdpr_art33 ").contains(" MISSED 8 h 0 min ago "), "{gdpr}");

    let nis2 = maria.run(&["determine", "INC-1", "significant_incident", "--basis", "Service down for 9 hours"]);
    let nis2 = nis2.ok();
    assert_eq!(nis2.lines().count(), 4, "three NIS2 clocks:\n{nis2}");
    assert!(line(nis2, "nis2_early_warning ").contains(" 23 h 59 min left "), "{nis2}");
    assert!(line(nis2, "nis2_notification ").contains(" 2 d 23 h left "), "{nis2}");
    assert!(
        line(nis2, "nis2_final_report ")
            .contains(" waits for nis2_notification starts when nis2_notification is submitted"),
        "the final report runs from the notification's submission:\n{nis2}"
    );

    // Refusals: a determination made twice, one the policy does not know, a time in the future.
    let twice = maria.run(&["determine", "INC-1", "significant_incident", "--basis", "again"]).fails(5).to_owned();
    assert!(twice.contains("already determined by maria"), "{twice}");
    assert!(maria.run(&["determine", "INC-1", "bad_weather", "--basis", "rain"]).fails(6).contains("bad_weather"));
    let future = maria.run(&["determine", "INC-1", "material", "--basis", "b", "--aware-at", "2999-01-01T00:00:00Z"]);
    assert!(future.fails(6).contains("aware_at"));
    assert!(
        maria
            .run(&["determine", "INC-1", "material", "--basis", "b", "--aware-at", "yesterday"])
            .fails(6)
            .contains("yesterday")
    );

    // `propose --clock` names the clock a decision is for; an unknown one is refused.
    let unknown =
        lena.run(&["propose", "INC-1", "regulatory_notification", "Tell them", "--clock", "nope"]).fails(6).to_owned();
    assert!(unknown.contains("INC-1 has no clock 'nope'"), "{unknown}");

    // Approving the text to send is not sending it: the GDPR clock still reads MISSED.
    let text = "We report a personal data breach: a table of names and e-mail addresses was copied.";
    lena.run(&["statement", "draft", "INC-1", "--audience", "regulator", "--title", "To the ICO", "--text", text]).ok();
    lena.run(&["statement", "propose", "INC-1", "ST-1"]).ok();
    eve.run(&["approve", "INC-1", "D-1"]).ok();
    let clocks = maria.run(&["clocks", "INC-1"]);
    assert!(line(clocks.ok(), "gdpr_art33 ").contains(" MISSED "), "approved is not sent:\n{}", clocks.stdout);

    // Recording the submission meets it (late here), with the authority's reference.
    let submit = [
        "submit",
        "INC-1",
        "gdpr_art33",
        "--statement",
        "ST-1",
        "--version",
        "1",
        "--authority",
        "ICO",
        "--channel",
        "ico.org.uk breach form",
        "--reference",
        "ICO-2026-1188",
    ];
    assert!(eve.run(&submit).fails(3).contains("actions.submissions"));
    let submitted = lena.run(&submit);
    let submitted = submitted.ok();
    assert!(submitted.starts_with("Recorded the notification for gdpr_art33 on INC-1:"), "{submitted}");
    assert!(line(submitted, "gdpr_art33 ").contains(" late: sent "), "{submitted}");
    assert!(line(submitted, "gdpr_art33 ").contains("to ICO, reference ICO-2026-1188"), "{submitted}");
    assert!(lena.run(&submit).fails(5).contains("already met"));

    // Legal records the NIS2 early warning as not required, with the basis; the commander may not.
    let not_required = ["not-required", "INC-1", "nis2_early_warning", "--basis", "The CSIRT waived it"];
    assert!(maria.run(&not_required).fails(3).contains("actions.release_clocks"));
    lena.run(&not_required).ok();

    let clocks = maria.run(&["clocks", "INC-1"]);
    let clocks = clocks.ok();
    assert!(line(clocks, "nis2_early_warning ").contains(" not required by lena: The CSIRT waived it"), "{clocks}");
    assert!(line(clocks, "nis2_final_report ").contains(" waits for nis2_notification "), "{clocks}");
    assert!(line(clocks, "nis2_notification ").contains(" left "), "{clocks}");
    assert!(
        line(clocks, "Determined personal_data_breach by lena at ")
            .contains(&format!(", aware since {}.000000Z: The copied table", &aware[..19])),
        "{clocks}"
    );
    let json = maria.run(&["clocks", "INC-1", "--json"]).json();
    let gdpr = find(&json["clocks"], "clock", "gdpr_art33");
    assert_eq!((gdpr["running"].clone(), gdpr["outcome"].clone()), (json!(false), json!("late")));
    assert_eq!(gdpr["submission"]["reference"], "ICO-2026-1188");
    assert_eq!(gdpr["submission"]["decision"], "D-1");
    let final_report = find(&json["clocks"], "clock", "nis2_final_report");
    assert_eq!((final_report["outcome"].clone(), final_report["deadline"].clone()), (json!("waiting"), json!(null)));
    // Nor does the incident's state or the SITREP give it a deadline it does not have yet.
    let state = maria.run(&["status", "INC-1", "--json"]).json();
    let waiting = find(&state["clocks"], "clock", "nis2_final_report");
    assert_eq!((waiting["deadline"].clone(), waiting["started_at"].clone()), (json!(null), json!(null)), "{waiting}");
    let sitrep = maria.run(&["show", "INC-1", "--json"]).json();
    assert_eq!(find(&sitrep["clocks"], "clock", "nis2_final_report")["deadline"], json!(null));
    assert_eq!(json["determinations"].as_array().map(Vec::len), Some(2));

    // Withdrawing the NIS2 determination stops its open clocks, with the basis.
    let withdrawn =
        lena.run(&["withdraw-determination", "INC-1", "significant_incident", "--basis", "Below the NIS2 threshold"]);
    let withdrawn = withdrawn.ok();
    assert!(line(withdrawn, "nis2_notification ").contains(" determination withdrawn by lena"), "{withdrawn}");

    // Every clock is settled, so only the review keeps the incident open now.
    let close = maria.run(&["propose", "INC-1", "close", "Done"]).fails(5).to_owned();
    assert!(close.contains("post-incident review"), "{close}");
}

#[test]
fn local_roles_in_a_unit_in_scope() {
    let (_server, people) = organisation(&["maria", "tom"]);
    let [maria, tom] = [&people[0], &people[1]];
    maria.run(&["declare", "Branch office malware", "--severity", "sev2", "--scope", "emea"]).ok();

    // Without a role, tom may not contain; as EMEA's local commander he may, alone.
    let refused = tom.run(&["propose", "INC-1", "containment", "Isolate the branch"]).fails(3).to_owned();
    assert!(refused.contains("containment is local to EMEA"), "{refused}");
    let assigned = maria.run(&["assign", "INC-1", "commander", "tom", "--unit", "emea"]);
    assert_eq!(assigned.ok(), "tom holds commander in emea on INC-1.\n");
    let state = maria.run(&["status", "INC-1", "--json"]).json();
    assert_eq!(state["unit_roles"]["emea"]["commander"], json!(["tom"]));
    assert_eq!(state["roles"]["commander"], json!(["maria"]), "the central commander is unchanged");
    let contained = tom.run(&["propose", "INC-1", "containment", "Isolate the branch"]);
    assert_eq!(contained.ok(), "Proposed D-1 (containment): approved.\n");
    // Central classes stay central.
    tom.run(&["propose", "INC-1", "close", "All clean"]).fails(3);

    assert!(maria.run(&["assign", "INC-1", "commander", "tom", "--unit", "apac"]).fails(6).contains("apac"));
    assert!(maria.run(&["assign", "INC-1", "commander", "tom", "--unit", "emea"]).fails(5).contains("already holds"));
    let released = maria.run(&["assign", "INC-1", "commander", "tom", "--unit", "emea", "--release"]);
    assert_eq!(released.ok(), "tom no longer holds commander in emea on INC-1.\n");
    tom.run(&["propose", "INC-1", "containment", "Isolate it again"]).fails(3);
    maria.run(&["assign", "INC-1", "commander", "tom", "--unit", "emea", "--release"]).fails(5);
}

#[test]
fn the_report_and_a_formula_safe_decision_register() {
    let (_server, people) = organisation(&["maria", "tom"]);
    let [maria, tom] = [&people[0], &people[1]];
    maria.run(&["declare", "Phishing with a spreadsheet lure", "--severity", "sev3", "--role", "tech_lead=tom"]).ok();
    let formula = "=HYPERLINK(\"http://evil.example\",\"Block the sender\")";
    assert_eq!(
        maria.run(&["propose", "INC-1", "containment", formula, "--rationale", "+1 from tom"]).ok(),
        "Proposed D-1 (containment): approved.\n"
    );
    tom.run(&["propose", "INC-1", "containment", "Purge the mail"]).ok();
    maria.run(&["approve", "INC-1", "D-2", "--note", "@once"]).ok();
    tom.run(&["review", "lesson", "INC-1", "--what", "Users opened it", "--why", "No banner", "--change", "Banner"])
        .ok();
    tom.run(&[
        "review",
        "change",
        "INC-1",
        "L-1",
        "--title",
        "External banner",
        "--owner",
        "tom",
        "--due",
        &date_in(90),
        "--csf",
        "PR.AT-01",
    ])
    .ok();
    let summary = "Purged within 20 minutes; an external-mail banner comes next";
    maria.run(&["review", "complete", "INC-1", "--summary", summary]).ok();

    // Markdown for people, by default and with --markdown.
    let report = maria.run(&["report", "INC-1"]);
    let markdown = report.ok();
    assert!(markdown.starts_with("# Post-incident report INC-1: Phishing with a spreadsheet lure\n"), "{markdown}");
    let register = &markdown[markdown.find("## Decision register\n").expect("a decision register")..];
    assert!(register.contains("### D-1 ") && register.contains("### D-2 "), "{register}");
    assert!(register.contains("- approved: maria as commander at "), "{register}");
    assert!(markdown.contains("## Summary\n"), "{markdown}");
    assert!(markdown.contains("Review completed by maria at "), "{markdown}");
    assert!(markdown.contains("Purged within 20 minutes; an external-mail banner comes next"), "{markdown}");
    // The same report again, but for the second it was generated in (the line that says so).
    let without_generated = |text: &str| -> String {
        text.lines().filter(|line| !line.starts_with("Generated ")).collect::<Vec<_>>().join("\n")
    };
    let again = maria.run(&["report", "INC-1", "--markdown"]);
    assert_eq!(without_generated(again.ok()), without_generated(markdown));
    // JSON for scripts.
    let json = maria.run(&["report", "INC-1", "--json"]).json();
    assert_eq!(json["review"]["completed"]["summary"], summary);
    assert_eq!(find(&json["decisions"], "id", "D-1")["title"], formula);
    maria.run(&["report", "INC-9"]).fails(4);

    // The decisions, one line each.
    let listed = maria.run(&["decisions", "INC-1"]);
    assert!(line(listed.ok(), "D-2 ").contains("Purge the mail  approved"), "{}", listed.stdout);

    // The register as CSV: the title, the rationale and the note a spreadsheet would evaluate
    // start with ' instead.
    let csv = maria.run(&["decisions", "INC-1", "--csv"]);
    let csv = csv.ok().to_owned();
    assert!(csv.starts_with("\"incident\",\"decision\",\"class\",\"title\","), "{csv}");
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Block the sender\"\")\","), "{csv}");
    assert!(csv.contains(",\"'+1 from tom\","), "{csv}");
    assert!(csv.contains(",\"'@once\","), "{csv}");
    for dangerous in ["=", "+", "-", "@"] {
        assert!(!csv.contains(&format!(",\"{dangerous}")), "a cell starts with {dangerous}:\n{csv}");
    }

    // Written to a file: never over an existing one without --force.
    let dir = tempfile::tempdir().expect("a directory");
    let file = dir.path().join("register.csv");
    let path = file.to_str().expect("UTF-8");
    let written = maria.run(&["decisions", "INC-1", "--csv", "-o", path]);
    assert_eq!(written.ok(), format!("Wrote the decision register of INC-1 to {path} ({} bytes of CSV).\n", csv.len()));
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), csv);
    assert!(maria.run(&["decisions", "INC-1", "--csv", "-o", path]).fails(2).contains("--force"));
    let again = maria.run(&["--json", "decisions", "INC-1", "--csv", "-o", path, "--force"]).json();
    assert_eq!(again["bytes"], csv.len());
    assert!(maria.run(&["decisions", "INC-1", "--csv", "--json"]).fails(2).contains("-o FILE"));
    maria.run(&["decisions", "INC-9", "--csv", "-o", dir.path().join("x.csv").to_str().expect("UTF-8")]).fails(4);
    assert!(!dir.path().join("x.csv").exists(), "a refused export leaves no file");
}

#[test]
fn the_demo_shows_a_submitted_notification_a_withdrawn_determination_and_the_text_an_approval_binds() {
    let (server, people) = Server::demo();
    let token = |name: &str| people.iter().find(|p| p.name == name).expect("a demo person").token.clone();
    let eve = server.cli(&token("eve"));

    let clocks = eve.run(&["clocks", "INC-1"]);
    let clocks = clocks.ok();
    assert!(
        line(clocks, "nis2_early_warning ").contains(" met: sent ")
            && line(clocks, "nis2_early_warning ").contains("to National CSIRT, reference CSIRT-2026-04417"),
        "a notification sent and recorded with its reference:\n{clocks}"
    );
    assert!(line(clocks, "nis2_notification ").contains(" determination withdrawn by lena"), "{clocks}");
    assert!(
        line(clocks, "Determined significant_incident by lena").contains("; WITHDRAWN by lena at "),
        "the withdrawn determination and its basis:\n{clocks}"
    );
    assert!(line(clocks, "gdpr_art33 ").contains(" left "), "the GDPR clock still runs:\n{clocks}");

    // The executive is asked to approve the notification to the authority: the SITREP quotes
    // the exact text, as the approval card and the decision view do.
    let sitrep = eve.run(&["show", "INC-1"]);
    let sitrep = sitrep.ok();
    assert!(
        sitrep.contains("approves ST-3 v1 \"Personal data breach notification (GDPR Art. 33)\" to regulator"),
        "{sitrep}"
    );
    assert!(sitrep.contains("    > Nature of the breach: a deployment access key was published"), "{sitrep}");
    let state = eve.run(&["--json", "status", "INC-1"]).json();
    let waiting = state["decisions"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["class"] == "regulatory_notification" && d["state"] == "proposed"))
        .cloned()
        .expect("the notification waits on the executive");
    assert!(
        waiting["statement_text"]["text"].as_str().is_some_and(|t| t.starts_with("Nature of the breach")),
        "{waiting}"
    );
}

#[test]
fn command_changes_hands_with_sitrep_handover() {
    let (_server, people) = organisation(&["maria", "tom"]);
    let [maria, tom] = [&people[0], &people[1]];
    maria.run(&["declare", "Leaked deploy key", "--severity", "sev2", "--role", "tech_lead=tom"]).ok();

    // A second commander is refused (exit 5), naming the rule and the way to hand over.
    let refused = maria.run(&["assign", "INC-1", "commander", "tom"]).fails(5).to_owned();
    assert!(refused.contains("one commander at a time") && refused.contains("sitrep handover"), "{refused}");
    // Only the commander hands over their command (exit 3), and a reason is required (clap, 2).
    tom.run(&["handover", "INC-1", "tom", "--reason", "mine now"]).fails(3);
    assert_eq!(maria.run(&["handover", "INC-1", "tom"]).code, Some(2));

    let handed = maria.run(&["handover", "INC-1", "tom", "--reason", "end of shift"]);
    assert_eq!(handed.ok(), "tom now commands INC-1 (handed over by maria).\n");
    let state = tom.run(&["status", "INC-1", "--json"]).json();
    assert_eq!(state["roles"]["commander"], json!(["tom"]));
    let shown = tom.run(&["show", "INC-1"]).ok().to_owned();
    assert!(shown.contains("Commander: **tom**"), "{shown}");
    assert!(shown.contains("maria handed command to tom (recorded by maria): end of shift"), "{shown}");
}

#[test]
fn facts_notes_and_the_incident_say_when_things_happened() {
    let (_server, people) = organisation(&["maria", "tom"]);
    let [maria, tom] = [&people[0], &people[1]];
    maria.run(&["declare", "Leaked deploy key", "--severity", "sev2", "--role", "tech_lead=tom"]).ok();
    let earlier = (sitrep_testing::system_now().as_jiff() - jiff::SignedDuration::from_hours(2)).to_string();

    // A backfill without its reason is refused (exit 6) and names what is missing.
    let refused = tom.run(&["log", "INC-1", "Key pushed to GitHub", "--occurred-at", &earlier]).fails(6).to_owned();
    assert!(refused.contains("backfill_reason") && refused.contains("needs a reason"), "{refused}");
    let logged = tom
        .run(&[
            "log",
            "INC-1",
            "Key pushed to GitHub",
            "--occurred-at",
            &earlier,
            "--backfill-reason",
            "git log",
            "--json",
        ])
        .json();
    assert_ne!(logged["occurred_at"], logged["logged_at"]);
    tom.run(&["note", "INC-1", "Customer called", "--occurred-at", &earlier, "--backfill-reason", "call log"]).ok();

    let recorded = maria.run(&[
        "occurrence",
        "INC-1",
        "--started",
        &earlier,
        "--detected",
        &earlier,
        "--backfill-reason",
        "commit and alert times",
    ]);
    assert!(recorded.ok().starts_with("INC-1: started "), "{}", recorded.stdout);
    tom.run(&["occurrence", "INC-1", "--detected", &earlier, "--backfill-reason", "x"]).fails(3);
    let shown = maria.run(&["occurrence", "INC-1"]).ok().to_owned();
    assert!(shown.contains("started ") && shown.contains("detected "), "{shown}");
    let sitrep = maria.run(&["show", "INC-1"]).ok().to_owned();
    assert!(sitrep.contains("(backfilled: git log)") && sitrep.contains("· happened "), "{sitrep}");
}
