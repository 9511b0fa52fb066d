//! Export bundles end to end: `sitrep export` against a real `sitrep serve`, `sitrep
//! verify-bundle` offline on what it wrote and on tampered copies, and the independent Python
//! verifier (`tools/verify_bundle.py`) agreeing with it on every one.
//!
//! The Python verifier needs python3 with the `cryptography` package. Without them these tests
//! say so and skip that part, unless `SITREP_PYTHON_VERIFIER_TESTS=required` (as in CI), when
//! they fail instead.

// Shared with the other test binaries; not every one uses every helper.
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sitrep_core::bundle::{self, Bundle, Contents, Member, Reader, Scope};
use sitrep_core::checkpoint::{SigningKey, decode_canonical};
use sitrep_core::entry::{Entry, canonical_json};
use sitrep_core::{EntryHash, IncidentNumber};
use support::{BIN, Cli, Server};

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `sitrep verify-bundle FILE ARGS…` (offline: no server named): exit code and stdout.
fn verify_bundle(file: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .arg("verify-bundle")
        .arg(file)
        .args(args)
        .env_remove("SITREP_URL")
        .env_remove("SITREP_TOKEN")
        .output()
        .expect("sitrep verify-bundle runs");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Asserts that `verify-bundle` refuses `file` with exit 1 and one `BROKEN:` line; returns it.
fn broken(file: &Path, args: &[&str]) -> String {
    let (code, stdout) = verify_bundle(file, args);
    assert_eq!(code, Some(1), "{} {args:?} should not verify: {stdout}", file.display());
    assert!(stdout.starts_with("BROKEN: ") && stdout.lines().count() == 1, "{stdout:?}");
    stdout.trim_end().to_owned()
}

/// The independent verifier, when python3 and its one package are there.
struct Python {
    script: PathBuf,
}

fn python() -> Option<Python> {
    let required = std::env::var("SITREP_PYTHON_VERIFIER_TESTS").is_ok_and(|v| v == "required");
    let available = Command::new("python3")
        .args(["-c", "import cryptography.hazmat.primitives.asymmetric.ed25519"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(!required, "SITREP_PYTHON_VERIFIER_TESTS=required, but python3 with `cryptography` is not installed");
        println!(
            "skipping the Python verifier: python3 with the `cryptography` package is not installed \
             (SITREP_PYTHON_VERIFIER_TESTS=required makes this a failure)"
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/verify_bundle.py");
    assert!(script.is_file(), "{} exists", script.display());
    Some(Python { script })
}

impl Python {
    /// `python3 tools/verify_bundle.py FILE ARGS…`: exit code and stdout.
    fn run(&self, file: &Path, args: &[&str]) -> (Option<i32>, String) {
        let output = Command::new("python3").arg(&self.script).arg(file).args(args).output().expect("python3 runs");
        assert!(
            output.status.code().is_some_and(|c| c <= 2),
            "the Python verifier crashed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The verifier's `verify()` on each file in one process: "ok" or "broken: …" per file
    /// (anything else, such as an exception, shows as "crashed: …").
    fn verdicts(&self, files: &[PathBuf]) -> Vec<String> {
        let driver = r#"
import sys
sys.path.insert(0, sys.argv[1])
import verify_bundle as v
for path in sys.argv[2:]:
    try:
        v.verify(path)
        print("ok")
    except v.Broken as broken:
        print("broken: " + broken.line().encode("unicode_escape").decode("ascii"))
    except Exception as error:
        print("crashed: %r" % (error,))
"#;
        let tools = self.script.parent().expect("the tools directory");
        let output =
            Command::new("python3").args(["-c", driver]).arg(tools).args(files).output().expect("python3 runs");
        assert!(output.status.success(), "the driver failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
    }

    /// Asserts the Python verifier gives `code` on `file`, as `verify-bundle` does.
    fn agrees(&self, file: &Path, args: &[&str], code: i32) {
        let (got, stdout) = self.run(file, args);
        assert_eq!(got, Some(code), "python verify_bundle.py {} {args:?}: {stdout}", file.display());
    }
}

/// Reads a bundle's parts with the verifier's own reader (no checks beyond the archive's).
fn read_bundle(file: &Path) -> Bundle {
    let mut reader = Reader::new();
    reader.feed(&std::fs::read(file).expect("the bundle")).expect("a well-formed archive");
    reader.finish().expect("a complete archive")
}

/// The entries of a bundle's record.jsonl.
fn entries(bundle: &Bundle) -> Vec<Entry> {
    String::from_utf8(bundle.record.clone())
        .expect("UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("an entry"))
        .collect()
}

/// Writes a bundle with these parts as the server would (the same writer, the tar crate).
fn write_bundle(file: &Path, bundle: &Bundle, record: &[u8]) {
    let mut members = vec![
        ("bundle.json".to_owned(), Member::Bytes(canonical_json(&bundle.manifest).expect("canonical").into_bytes())),
        ("checkpoint".to_owned(), Member::Bytes(bundle.checkpoint.clone())),
        ("policy.toml".to_owned(), Member::Bytes(bundle.policy.clone())),
        ("record.jsonl".to_owned(), Member::Bytes(record.to_vec())),
    ];
    if let Some(proofs) = &bundle.proofs {
        members.push(("proofs.json".to_owned(), Member::Bytes(proofs.clone())));
    }
    let contents = Contents { manifest: bundle.manifest.clone(), checkpoint: String::new(), members };
    write_contents(file, &contents);
}

fn write_contents(file: &Path, contents: &Contents) {
    let out = std::fs::File::create(file).expect("a file");
    sitrep_server::api::export::write_tar(contents, |_| panic!("no evidence files in forged bundles"), out)
        .expect("the archive is written");
}

/// The deployment's signing key, as someone who has stolen it from the data directory would
/// use it.
fn stolen_key(server: &Server) -> SigningKey {
    let text = std::fs::read_to_string(server.data.join("deployment.key")).expect("the key file");
    let seed: [u8; 32] = decode_canonical(text.trim()).expect("base64").try_into().expect("32 bytes");
    SigningKey::from_bytes(&seed)
}

/// The incident's record as `sitrep record --json` prints it.
fn served(cli: &Cli) -> Vec<Value> {
    cli.run(&["record", "INC-1", "--json"]).ok().lines().map(|line| serde_json::from_str(line).expect("JSON")).collect()
}

/// A new deployment with one incident of `facts` facts, declared by its admin; the admin's client.
fn deployment(facts: usize) -> (Server, Cli, tempfile::TempDir) {
    let (server, token) = Server::init("ada");
    let cli = server.cli(&token);
    cli.run(&["declare", "Leaked key", "--severity", "sev2"]).ok();
    for n in 1..=facts {
        cli.run(&["log", "INC-1", &format!("Fact number {n}: \"quoted\", ünïcode")]).ok();
    }
    (server, cli, tempfile::tempdir().expect("a temporary directory"))
}

#[test]
fn a_demo_export_verifies_and_every_sampled_changed_byte_fails_in_both_verifiers() {
    let (server, people) = Server::demo();
    let maria = server.cli(&people.iter().find(|p| p.name == "maria").expect("the commander").token);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("INC-1.tar");
    let pubkey = server.data.join("deployment.pub");

    // Evidence files need a purpose, and each export of one is a custody entry.
    let refused = maria.run(&["export", "INC-1", "-o", path_str(&file), "--blobs"]);
    assert!(refused.fails(2).contains("--purpose"), "{}", refused.stderr);
    let exported = maria.run(&["export", "INC-1", "-o", path_str(&file), "--blobs", "--purpose", "audit", "--json"]);
    let answer = exported.json();
    assert_eq!(answer["incident"], "INC-1");
    assert!(answer["blobs"].as_u64().expect("a count") >= 1, "{answer}");
    let custody = maria.run(&["evidence", "list", "INC-1", "--json"]).json();
    for item in custody["evidence"].as_array().expect("items") {
        let purposes: Vec<&str> =
            item["custody"].as_array().expect("custody").iter().filter_map(|c| c["purpose"].as_str()).collect();
        assert!(purposes.contains(&"export: audit"), "{purposes:?}");
    }
    assert!(maria.run(&["export", "INC-1", "-o", path_str(&file)]).fails(2).contains("exists"));
    // Those the policy does not let read evidence cannot export; unknown incidents are 404.
    let chris = server.cli(&people.iter().find(|p| p.name == "chris").expect("comms").token);
    assert!(
        chris
            .run(&["export", "INC-1", "-o", path_str(&dir.path().join("c.tar"))])
            .fails(3)
            .contains("actions.evidence")
    );
    maria.run(&["export", "INC-99", "-o", path_str(&dir.path().join("none.tar"))]).fails(4);

    let (code, stdout) = verify_bundle(&file, &["--key", path_str(&pubkey)]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: INC-1: ") && stdout.contains("with the key given"), "{stdout}");
    let (_, json) = verify_bundle(&file, &["--json"]);
    let json: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((json["ok"].as_bool(), json["excerpt"].as_bool()), (Some(true), Some(false)));

    let bytes = std::fs::read(&file).expect("the bundle");
    let mut flipped = Vec::new();
    for (n, index) in (0..bytes.len()).step_by(97).enumerate() {
        let mut changed = bytes.clone();
        changed[index] ^= [0x01, 0x80, 0x20, 0xff][n % 4];
        let copy = dir.path().join(format!("flip-{index}.tar"));
        std::fs::write(&copy, &changed).expect("a copy");
        broken(&copy, &[]);
        flipped.push(copy);
    }
    assert!(flipped.len() > 50, "a bundle of {} bytes gives enough samples", bytes.len());

    if let Some(python) = python() {
        python.agrees(&file, &["--key", path_str(&pubkey)], 0);
        let verdicts = python.verdicts(&flipped);
        assert_eq!(verdicts.len(), flipped.len());
        for (copy, verdict) in flipped.iter().zip(&verdicts) {
            assert!(verdict.starts_with("broken: "), "{}: the Python verifier says {verdict}", copy.display());
        }
        python.agrees(&flipped[flipped.len() / 2], &[], 1);
        // Python's standard library reads the bundle as a plain tar archive.
        let names = Command::new("python3")
            .args(["-c", "import sys, tarfile; print(' '.join(tarfile.open(sys.argv[1]).getnames()))"])
            .arg(&file)
            .output()
            .expect("python3 runs");
        let names = String::from_utf8_lossy(&names.stdout);
        assert!(names.starts_with("bundle.json checkpoint policy.toml record.jsonl blobs/"), "{names}");
    }
}

#[test]
fn a_truncated_or_forked_record_re_signed_with_the_real_key_is_caught_against_an_earlier_checkpoint() {
    let (server, cli, dir) = deployment(6);
    let earlier = dir.path().join("earlier.checkpoint");
    let saved = cli.run(&["checkpoint", "INC-1", "-o", path_str(&earlier)]);
    let size = served(&cli).len();
    assert!(saved.ok().contains(&format!("at size {size}")), "{}", saved.stdout);
    assert_eq!(std::fs::read_to_string(&earlier).expect("saved").lines().nth(1), Some(size.to_string().as_str()));
    cli.run(&["log", "INC-1", "A later fact"]).ok();
    let good = dir.path().join("good.tar");
    cli.run(&["export", "INC-1", "-o", path_str(&good)]).ok();
    let (code, stdout) = verify_bundle(&good, &["--checkpoint", path_str(&earlier)]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains(&format!("extends the earlier checkpoint of {size} entries")), "{stdout}");

    // Someone with the data directory cuts the record short and signs it again.
    let bundle = read_bundle(&good);
    let record = entries(&bundle);
    let deployment = bundle.manifest.origin.split('/').nth(1).expect("the deployment").parse().expect("a UUID");
    let key = stolen_key(&server);
    let forge = |entries: &[Entry], name: &str| {
        let contents = bundle::assemble(
            deployment,
            IncidentNumber(1),
            entries,
            std::str::from_utf8(&bundle.policy).expect("UTF-8"),
            &key,
            &Scope::default(),
        )
        .expect("assembles");
        let path = dir.path().join(name);
        write_contents(&path, &contents);
        path
    };
    let truncated = forge(&record[..size - 2], "truncated.tar");
    // On its own it is a perfectly good bundle, even checked against the deployment's key…
    let pubkey = server.data.join("deployment.pub");
    assert_eq!(verify_bundle(&truncated, &["--key", path_str(&pubkey)]).0, Some(0));
    // …but it is shorter than what was signed before.
    assert!(broken(&truncated, &["--checkpoint", path_str(&earlier)]).contains("the record shrank"));

    // Cut short and grown past the earlier size with other entries: a fork.
    let mut forked: Vec<Entry> = record[..size - 3].to_vec();
    for entry in &record[size - 3..] {
        let prev = forked.last().map(|e| e.hash).unwrap_or(EntryHash::ZERO);
        let body = entry.body.replace("Fact number", "Nothing happened, number");
        forked.push(Entry::seal(entry.seq, entry.at, entry.actor.clone(), &entry.kind, body, prev));
    }
    let forked = forge(&forked, "forked.tar");
    assert_eq!(verify_bundle(&forked, &[]).0, Some(0));
    assert!(broken(&forked, &["--checkpoint", path_str(&earlier)]).contains("was rewritten"));

    if let Some(python) = python() {
        python.agrees(&good, &["--checkpoint", path_str(&earlier)], 0);
        python.agrees(&truncated, &["--key", path_str(&pubkey)], 0);
        python.agrees(&truncated, &["--checkpoint", path_str(&earlier)], 1);
        python.agrees(&forked, &[], 0);
        python.agrees(&forked, &["--checkpoint", path_str(&earlier)], 1);
    }
}

#[test]
fn an_excerpt_with_a_tampered_entry_fails_and_so_does_a_wrong_key() {
    let (server, cli, dir) = deployment(5);
    let record = served(&cli);
    let facts: Vec<u64> =
        record.iter().filter(|e| e["kind"] == "fact.logged").map(|e| e["seq"].as_u64().expect("a seq")).collect();
    let chosen = format!("{},{}", facts[3], facts[1]);
    let excerpt = dir.path().join("excerpt.tar");
    let exported = cli.run(&["export", "INC-1", "-o", path_str(&excerpt), "--entries", &chosen, "--since", "3"]);
    assert!(
        exported.ok().contains(&format!("2 of {} entries with inclusion proofs", record.len())),
        "{}",
        exported.stdout
    );
    let (code, stdout) = verify_bundle(&excerpt, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    let described = format!("an excerpt of 2 of {} entries (seq {}, {})", record.len(), facts[1], facts[3]);
    assert!(stdout.contains(&described), "{stdout}");

    // The fourth fact's text changed and its hash recomputed: consistent on its own, not in the tree.
    let bundle = read_bundle(&excerpt);
    let record = entries(&bundle);
    let original = &record[1];
    assert_eq!(original.seq, facts[3]);
    let body = original.body.replace("Fact number 4", "Fact number 4 (never mind)");
    assert_ne!(body, original.body);
    let rewritten = Entry::seal(original.seq, original.at, original.actor.clone(), &original.kind, body, original.prev);
    let lines = format!("{}\n{}\n", bundle::record_line(&record[0]), bundle::record_line(&rewritten));
    let tampered = dir.path().join("tampered.tar");
    write_bundle(&tampered, &bundle, lines.as_bytes());
    let failure = broken(&tampered, &[]);
    let seq = format!("record.jsonl seq {}", facts[3]);
    assert!(failure.contains(&seq) && failure.contains("not in the signed tree"), "{failure}");

    // Changed without recomputing the hash: the entry's own hash gives it away.
    let text = String::from_utf8(bundle.record.clone()).expect("UTF-8").replace("Fact number 4", "Fact number 8");
    let naive = dir.path().join("naive.tar");
    write_bundle(&naive, &bundle, text.as_bytes());
    assert!(broken(&naive, &[]).contains(&format!("{seq}: the hash does not match")));

    // The right key passes, as base64 or as the file; another key, or no key at all, fails.
    let pubkey = server.data.join("deployment.pub");
    let key_text = std::fs::read_to_string(&pubkey).expect("the public key").trim().to_owned();
    assert_eq!(verify_bundle(&excerpt, &["--key", &key_text]).0, Some(0));
    assert_eq!(verify_bundle(&excerpt, &["--key", path_str(&pubkey)]).0, Some(0));
    let other = sitrep_core::checkpoint::encode_public_key(&SigningKey::from_bytes(&[42; 32]).verifying_key());
    assert!(broken(&excerpt, &["--key", &other]).starts_with("BROKEN: --key: the bundle is signed with"));
    assert_eq!(verify_bundle(&excerpt, &["--key", "not-a-key"]).0, Some(2));
    assert_eq!(verify_bundle(&dir.path().join("missing.tar"), &[]).0, Some(2));

    if let Some(python) = python() {
        python.agrees(&excerpt, &[], 0);
        python.agrees(&excerpt, &["--key", path_str(&pubkey)], 0);
        python.agrees(&tampered, &[], 1);
        python.agrees(&naive, &[], 1);
        python.agrees(&excerpt, &["--key", &other], 1);
        python.agrees(&excerpt, &["--key", "not-a-key"], 2);
    }
}
