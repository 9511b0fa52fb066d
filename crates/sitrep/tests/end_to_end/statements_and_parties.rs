//! Statements and third parties through the real `sitrep` binary against a real `sitrep serve`:
//! a customer notice drafted, approved through the class its audience needs, revised (which
//! needs a new approval) and published; a party registered, updated and engaged; a share link
//! created by an approved evidence-sharing decision, used, and revoked.

use crate::support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Cli, Server, eventually, http_get};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `sitrep user add NAME` and a token for them, as the admin: the client as that person.
fn person(server: &Server, admin: &Cli, name: &str) -> Cli {
    admin.run(&["user", "add", name]).ok();
    let created = admin.run(&["token", "create", "--user", name]);
    server.cli(created.ok().lines().last().expect("the token is printed last"))
}

#[test]
fn a_customer_notice_is_drafted_approved_revised_reapproved_and_published() {
    let (server, admin_token) = Server::init("root");
    let root = server.cli(&admin_token);
    let (lena, chris, eve) =
        (person(&server, &root, "lena"), person(&server, &root, "chris"), person(&server, &root, "eve"));
    let declared = root.run(&[
        "declare",
        "Customer data exposed through a misconfigured bucket",
        "--severity",
        "sev1",
        "--role",
        "legal=lena",
        "--role",
        "comms=chris",
        "--role",
        "executive=eve",
    ]);
    declared.ok();

    let first = "We found a storage bucket that was readable from the internet. We closed it at 04:10 UTC.";
    let drafted = chris.run(&[
        "statement",
        "draft",
        "INC-1",
        "--audience",
        "customers",
        "--title",
        "Notice to affected customers",
        "--text",
        first,
    ]);
    assert_eq!(
        drafted.ok(),
        format!(
            "Drafted ST-1 for customers on INC-1: version 1, sha256 {}; it needs an approved customer_notification \
             decision (`sitrep statement propose INC-1 ST-1`).\n",
            sha256(first.as_bytes())
        )
    );
    // Nothing goes out unapproved.
    let early = chris.run(&["statement", "publish", "INC-1", "ST-1", "--channel", "customer email"]);
    assert!(early.fails(3).contains("no approved customer_notification decision"), "{}", early.stderr);

    // Legal asks for approval through the class the audience needs; the executive approves.
    let proposed = lena.run(&["statement", "propose", "INC-1", "ST-1"]);
    let proposed = proposed.ok();
    assert!(
        proposed.starts_with(&format!(
            "Proposed D-1 (customer_notification) to approve ST-1 version 1 (sha256 {}): waiting",
            sha256(first.as_bytes())
        )),
        "{proposed}"
    );
    assert!(proposed.contains("must act: executive: eve"), "{proposed}");
    assert_eq!(eve.run(&["approve", "INC-1", "D-1"]).ok(), "Approved D-1; it is approved.\n");

    // A revision after approval needs its own approval before anything is published.
    let work = tempfile::tempdir().expect("a temporary directory");
    let second = "We found a storage bucket that was readable from the internet.\nWe closed it at 04:10 UTC.\n\
                  No payment data was in it.\n";
    let file = work.path().join("notice.txt");
    std::fs::write(&file, second).expect("written");
    let revised = chris.run(&["statement", "revise", "INC-1", "ST-1", "--file", file.to_str().expect("UTF-8")]);
    assert_eq!(
        revised.ok(),
        format!(
            "ST-1 is now at version 2, sha256 {}; it needs a new approved customer_notification decision.\n",
            sha256(second.as_bytes())
        )
    );
    let stale = chris.run(&["statement", "publish", "INC-1", "ST-1", "--channel", "customer email"]);
    stale.fails(3);
    let again =
        lena.run(&["--json", "statement", "approve-request", "INC-1", "ST-1", "--rationale", "adds payment data"]);
    let again = again.json();
    assert_eq!(again["id"], "D-2");
    assert_eq!(again["statement"], json!({"statement": "ST-1", "version": 2, "sha256": sha256(second.as_bytes())}));
    eve.run(&["approve", "INC-1", "D-2", "--note", "Go"]).ok();

    let published = chris.run(&["statement", "publish", "INC-1", "ST-1", "--channel", "customer email"]);
    assert_eq!(
        published.ok(),
        format!(
            "Published ST-1 version 2 to customer email (sha256 {}, approved by D-2).\n",
            sha256(second.as_bytes())
        )
    );

    let listing = chris.run(&["statement", "list", "INC-1", "--text"]);
    let text = listing.ok();
    assert!(text.starts_with("ST-1   customers  version 2  approved by D-2  Notice to affected customers\n"), "{text}");
    assert!(text.contains("    published: customer email (v2)\n"), "{text}");
    assert!(text.contains("    > No payment data was in it.\n"), "{text}");
    let listed = chris.run(&["--json", "statement", "list", "INC-1"]).json();
    let statement = &listed["statements"][0];
    assert_eq!(statement["needs_class"], "customer_notification");
    assert_eq!(statement["versions"][0]["approved_by"], "D-1");
    assert_eq!(statement["versions"][1]["approved_by"], "D-2");
    assert_eq!(statement["publications"].as_array().map(Vec::len), Some(1));

    // Unknown statements and audiences are named.
    chris.run(&["statement", "propose", "INC-1", "ST-9"]).fails(4);
    let nobody = chris.run(&["statement", "draft", "INC-1", "--audience", "everyone", "--title", "x", "--text", "y"]);
    assert_eq!(nobody.code, Some(2), "{}", nobody.stderr);
    assert!(nobody.stderr.contains("[possible values: internal, customers, regulator, press, partners]"));
    let (code, output) = server.verify_data();
    assert_eq!(code, Some(0), "{output}");
}

#[test]
fn a_party_is_registered_engaged_and_its_share_link_used_and_revoked() {
    let (server, admin_token) = Server::init("root");
    let root = server.cli(&admin_token);
    let lena = person(&server, &root, "lena");
    root.run(&["declare", "Backdoored RMM agent", "--severity", "sev1", "--role", "legal=lena"]).ok();

    let registered = root.run(&[
        "party",
        "add",
        "acme-msp",
        "--name",
        "Acme Managed Services",
        "--kind",
        "msp",
        "--contact",
        "Dana Reyes (account manager) <dana@acme.example> +44 20 7946 0000",
        "--contact",
        "SOC desk <soc@acme.example>",
        "--operates",
        "endpoint management",
        "--authority",
        "may suspend their integration",
        "--authority",
        "may revoke their access",
        "--sharing-rule",
        "logs only, through an approved share link",
    ]);
    assert_eq!(registered.ok(), "Registered acme-msp: Acme Managed Services (msp).\n");
    let denied = lena.run(&["party", "add", "other", "--name", "Other", "--kind", "vendor"]);
    denied.fails(3);
    assert_eq!(root.run(&["party", "add", "x", "--name", "X", "--kind", "friend"]).code, Some(2));

    let party = |cli: &Cli| -> Value {
        let registry = cli.run(&["--json", "party", "list"]).json();
        registry["parties"].as_array().and_then(|all| all.first()).cloned().expect("one party")
    };
    let acme = party(&lena);
    assert_eq!(acme["kind"], "msp");
    assert_eq!(
        acme["contacts"],
        json!([
            {"name": "Dana Reyes", "role": "account manager", "email": "dana@acme.example", "phone": "+44 20 7946 0000"},
            {"name": "SOC desk", "email": "soc@acme.example"},
        ])
    );
    assert_eq!(acme["authority"], json!(["may suspend their integration", "may revoke their access"]));

    // An update changes what it names and keeps the rest.
    root.run(&["party", "update", "acme-msp", "--operates", "endpoint management and backups"]).ok();
    let acme = party(&root);
    assert_eq!(acme["operates"], "endpoint management and backups");
    assert_eq!(acme["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(acme["sharing_rule"], "logs only, through an approved share link");
    root.run(&["party", "update", "acme-msp", "--contact", "Night line +44 20 7946 0001", "--sharing-rule", ""]).ok();
    let acme = party(&root);
    assert_eq!(acme["contacts"], json!([{"name": "Night line", "phone": "+44 20 7946 0001"}]));
    assert!(acme.get("sharing_rule").is_none_or(Value::is_null), "{acme:#}");
    root.run(&["party", "update", "nobody", "--name", "N"]).fails(4);
    let listing = root.run(&["party", "list"]);
    assert!(listing.ok().contains("    contact: Night line +44 20 7946 0001\n"), "{}", listing.stdout);

    let engaged = root.run(&["party", "engage", "INC-1", "acme-msp", "--reason", "their agent is the backdoor"]);
    let engaged = engaged.ok();
    assert!(engaged.starts_with("Engaged acme-msp (Acme Managed Services) on INC-1.\n"), "{engaged}");
    assert!(engaged.contains("    authority: may suspend their integration\n"), "{engaged}");
    assert!(root.run(&["party", "engage", "INC-1", "nobody"]).fails(6).contains("no registered party"));

    // Sharing evidence: an approved evidence_sharing decision creates the link.
    assert_eq!(root.run(&["share", "list", "INC-1"]).ok(), "No share links on INC-1.\n");
    let work = tempfile::tempdir().expect("a temporary directory");
    let log = b"2026-11-27T02:51:00Z agent.exe spawned powershell -enc ...\n";
    let path = work.path().join("agent.log");
    std::fs::write(&path, log).expect("written");
    root.run(&["evidence", "add", "INC-1", path.to_str().expect("UTF-8")]).ok();
    let action = json!({"connector": "share", "party": "acme-msp", "items": [sha256(log)], "expires_in_hours": 24});
    let proposed =
        root.run(&["propose", "INC-1", "evidence_sharing", "Send Acme the agent log", "--action", &action.to_string()]);
    assert!(proposed.ok().starts_with("Proposed D-1 (evidence_sharing): waiting"), "{}", proposed.stdout);
    lena.run(&["approve", "INC-1", "D-1"]).ok();
    let share = eventually("the share link to be created", || {
        let listed = root.run(&["--json", "share", "list", "INC-1"]).json();
        listed["shares"].as_array().and_then(|all| all.first()).cloned()
    });
    assert_eq!(share["id"], "SH-1");
    assert_eq!(share["live"], true);
    let url = share["url"].as_str().expect("the link, for those who may see it").to_owned();
    let link = url.strip_prefix(&server.url).expect("the link is on this server").to_owned();
    let text = root.run(&["share", "list", "INC-1"]);
    let text = text.ok();
    assert!(text.starts_with("SH-1   acme-msp             live     expires "), "{text}");
    assert!(text.contains(&format!("    url: {url}\n")) && text.contains(&sha256(log)), "{text}");

    // The party fetches the file without an account; the use is counted and in the custody trail.
    let (status, body) = http_get(&server.addr, &format!("{link}/{}", sha256(log))).expect("the server answers");
    assert_eq!((status, body.as_bytes()), (200, &log[..]));
    let listed = root.run(&["--json", "share", "list", "INC-1"]).json();
    assert_eq!(listed["shares"][0]["uses"], 1);

    let revoked = root.run(&["share", "revoke", "INC-1", "SH-1", "--reason", "they have it"]);
    assert_eq!(revoked.ok(), "Revoked SH-1 on INC-1; its link no longer works.\n");
    let (status, _) = http_get(&server.addr, &format!("{link}/{}", sha256(log))).expect("the server answers");
    assert_eq!(status, 410, "a revoked link serves nothing");
    let text = root.run(&["share", "list", "INC-1"]);
    let text = text.ok();
    assert!(text.starts_with("SH-1   acme-msp             revoked "), "{text}");
    assert!(text.contains("    revoked by root at ") && text.contains(": they have it\n"), "{text}");
    root.run(&["share", "revoke", "INC-1", "SH-7"]).fails(4);
    let (code, output) = server.verify_data();
    assert_eq!(code, Some(0), "{output}");
}
