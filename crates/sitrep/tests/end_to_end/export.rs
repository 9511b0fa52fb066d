//! Export bundles end to end: `sitrep export` against a real `sitrep serve`, `sitrep
//! verify-bundle` offline on what it wrote and on tampered copies, and the independent Python
//! verifier (`tools/verify_bundle.py`) agreeing with it on every one.
//!
//! The Python verifier needs python3 with the `cryptography` package. Without them these tests
//! say so and skip that part, unless `SITREP_PYTHON_VERIFIER_TESTS=required` (as in CI), when
//! they fail instead.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::Digest as _;
use sitrep_core::bundle::{self, Bundle, Contents, Member, Reader, Scope};
use sitrep_core::checkpoint::{Checkpoint, SigningKey, decode_canonical};
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

/// Writes a bundle with these parts as the server would (the same writer, the tar crate), its
/// manifest's hash of the record updated and signed again with `key`, as someone holding the
/// deployment's key would: what is left to catch a changed entry is the entry's own checks.
fn write_bundle(file: &Path, bundle: &Bundle, record: &[u8], key: &SigningKey) {
    let mut manifest = bundle.manifest.clone();
    manifest.record_sha256 = Some(sha256_hex(record));
    let manifest_bytes = canonical_json(&manifest).expect("canonical").into_bytes();
    let text = std::str::from_utf8(&bundle.checkpoint).expect("UTF-8");
    let old = sitrep_core::checkpoint::parse(text).expect("a checkpoint").checkpoint;
    let key_name = old.origin.rsplit_once('/').expect("an origin").0.to_owned();
    let manifest_sha256 = sha2::Sha256::digest(&manifest_bytes).into();
    let checkpoint = Checkpoint { manifest: Some(manifest_sha256), ..old }.sign(&key_name, key).expect("signs");
    let mut members = vec![
        ("bundle.json".to_owned(), Member::Bytes(manifest_bytes)),
        ("checkpoint".to_owned(), Member::Bytes(checkpoint.into_bytes())),
        ("policy.toml".to_owned(), Member::Bytes(bundle.policy.clone())),
        ("record.jsonl".to_owned(), Member::Bytes(record.to_vec())),
    ];
    if let Some(proofs) = &bundle.proofs {
        members.push(("proofs.json".to_owned(), Member::Bytes(proofs.clone())));
    }
    let contents = Contents { manifest, checkpoint: String::new(), members };
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
    // The check it suggests names the deployment's key file, never the key the bundle carries.
    let plain = dir.path().join("plain.tar");
    let said = maria.run(&["export", "INC-1", "-o", path_str(&plain)]).ok().to_owned();
    let carried = std::fs::read_to_string(&pubkey).expect("deployment.pub");
    assert!(said.contains(&format!("`sitrep verify-bundle {} --key deployment.pub`", plain.display())), "{said}");
    assert!(!said.contains(carried.trim()), "{said}");
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
    write_bundle(&tampered, &bundle, lines.as_bytes(), &stolen_key(&server));
    let failure = broken(&tampered, &[]);
    let seq = format!("record.jsonl seq {}", facts[3]);
    assert!(failure.contains(&seq) && failure.contains("not in the signed tree"), "{failure}");

    // Changed without recomputing the hash: the entry's own hash gives it away.
    let text = String::from_utf8(bundle.record.clone()).expect("UTF-8").replace("Fact number 4", "Fact number 8");
    let naive = dir.path().join("naive.tar");
    write_bundle(&naive, &bundle, text.as_bytes(), &stolen_key(&server));
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

// ---------------------------------------------------------------------------------------------
// Mutants: the same verdict from both verifiers
// ---------------------------------------------------------------------------------------------

/// A bundle's members in archive order: name and contents.
type Members = Vec<(String, Vec<u8>)>;

/// Splits an archive the exporter wrote into its members (the archive's own checks are the
/// verifiers' business; this trusts it).
fn unpack(bytes: &[u8]) -> Members {
    let mut members = Vec::new();
    let mut at = 0;
    while bytes[at..at + bundle::BLOCK].iter().any(|&b| b != 0) {
        let header = &bytes[at..at + bundle::BLOCK];
        let end = header[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8(header[..end].to_vec()).expect("a member name");
        let size = std::str::from_utf8(&header[124..135]).expect("an octal size");
        let size = usize::from_str_radix(size, 8).expect("an octal size");
        at += bundle::BLOCK;
        members.push((name, bytes[at..at + size].to_vec()));
        at += size + bundle::padding(size as u64);
    }
    members
}

/// The archive of `members`, with exactly the headers and padding the exporter writes.
fn pack(members: &Members) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        out.extend_from_slice(&bundle::tar_header(name, data.len() as u64).expect("a header"));
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, bundle::padding(data.len() as u64)));
    }
    out.extend([0u8; 2 * bundle::BLOCK]);
    out
}

fn member<'a>(members: &'a Members, name: &str) -> &'a [u8] {
    &members.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("the bundle has {name}")).1
}

fn put(members: &mut Members, name: &str, data: Vec<u8>) {
    let slot = members.iter_mut().find(|(n, _)| n == name).unwrap_or_else(|| panic!("the bundle has {name}"));
    slot.1 = data;
}

fn json_of(members: &Members, name: &str) -> Value {
    serde_json::from_slice(member(members, name)).expect("JSON")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Replaces a JSON member by `edit` of it, written canonically; a changed `proofs.json` gets its
/// hash in the manifest updated, so only someone with the key is needed to make it verify.
fn edit_json(members: &Members, name: &str, edit: impl FnOnce(&mut Value)) -> Members {
    let mut value = json_of(members, name);
    edit(&mut value);
    let mut changed = members.clone();
    put(&mut changed, name, canonical_json(&value).expect("canonical").into_bytes());
    if name != "bundle.json" {
        changed = rehash(&changed);
    }
    changed
}

/// The manifest's hashes of `record.jsonl` and `proofs.json` made to match them again.
fn rehash(members: &Members) -> Members {
    let proofs = members.iter().find(|(n, _)| n == "proofs.json").map(|(_, data)| sha256_hex(data));
    manifest_edit(members, |m| {
        m["record_sha256"] = sha256_hex(member(members, "record.jsonl")).into();
        match proofs {
            Some(proofs) => m["proofs_sha256"] = proofs.into(),
            None => remove(m, "proofs_sha256"),
        }
    })
}

/// The checkpoint signed again with the deployment's (stolen) key over the bundle's head and
/// its `bundle.json` as it now is, as an insider would: what is left to refuse is the format.
fn reseal(members: &Members, key: &SigningKey) -> Members {
    let text = std::str::from_utf8(member(members, "checkpoint")).expect("UTF-8");
    let old = sitrep_core::checkpoint::parse(text).expect("a checkpoint").checkpoint;
    let origin = json_of(members, "bundle.json")["origin"].as_str().map_or(old.origin.clone(), str::to_owned);
    let key_name = origin.rsplit_once('/').expect("an origin with an incident").0.to_owned();
    let manifest = sha2::Sha256::digest(member(members, "bundle.json")).into();
    let signed = Checkpoint { origin, manifest: Some(manifest), ..old }.sign(&key_name, key).expect("signs");
    let mut resealed = members.clone();
    put(&mut resealed, "checkpoint", signed.into_bytes());
    resealed
}

fn remove(value: &mut Value, key: &str) {
    if let Some(object) = value.as_object_mut() {
        object.remove(key);
    }
}

fn manifest_edit(members: &Members, edit: impl FnOnce(&mut Value)) -> Members {
    edit_json(members, "bundle.json", edit)
}

/// One changed bundle and whether every verifier must refuse it.
struct Mutant {
    name: String,
    members: Members,
    refuse: bool,
}

/// What a change is.
#[derive(Clone, Copy, PartialEq)]
enum Change {
    /// A spelling or shape the format does not allow: refused as it is, and still refused when
    /// signed again with the deployment's key.
    Malformed,
    /// Well-formed content the exporter did not sign (a policy, a dropped part): refused as it
    /// is; signed again with the key, it is what that key vouches for, and verifies.
    Unsigned,
    /// A change to the checkpoint itself: only as it is.
    Checkpoint,
}

/// Changes to a bundle, each as it is and (but for checkpoint changes) signed again with the
/// deployment's key.
fn mutants(base: &str, members: &Members, key: &SigningKey) -> Vec<Mutant> {
    let mut out = Vec::new();
    let mut push = |name: &str, members: Members, change: Change| {
        if change != Change::Checkpoint {
            out.push(Mutant {
                name: format!("{base}: {name}, signed again"),
                members: reseal(&members, key),
                refuse: change == Change::Malformed,
            });
        }
        out.push(Mutant { name: format!("{base}: {name}"), members, refuse: true });
    };
    let mut add = |name: &str, members: Members| push(name, members, Change::Malformed);
    let manifest = json_of(members, "bundle.json");
    let excerpt = manifest["excerpt"] == true;
    let has_proofs = members.iter().any(|(n, _)| n == "proofs.json");

    // bundle.json: every field missing in turn, an unknown one, wrong types and spellings.
    for key in manifest.as_object().expect("an object").keys() {
        add(&format!("bundle.json without {key}"), manifest_edit(members, |m| remove(m, key)));
        add(&format!("bundle.json {key} null"), manifest_edit(members, |m| m[key] = Value::Null));
    }
    add("bundle.json with an unknown field", manifest_edit(members, |m| m["signed"] = Value::Bool(true)));
    add("bundle.json format 9", manifest_edit(members, |m| m["format"] = "sitrep-bundle/9".into()));
    add("bundle.json format 1", manifest_edit(members, |m| m["format"] = "sitrep-bundle/1".into()));
    add(
        "bundle.json origin with the UUID in upper case",
        manifest_edit(members, |m| {
            m["origin"] = m["origin"]
                .as_str()
                .map(|o| o.replacen(|c: char| c.is_ascii_lowercase() && c.is_ascii_hexdigit(), "F", 1))
                .into()
        }),
    );
    add(
        "bundle.json origin with the UUID without hyphens",
        manifest_edit(members, |m| {
            let origin = m["origin"].as_str().unwrap_or("").to_owned();
            let (deployment, incident) = origin.rsplit_once('/').expect("an origin");
            m["origin"] = format!("{}/{incident}", deployment.replace('-', "")).into();
        }),
    );
    add(
        "bundle.json record_sha256 in upper case",
        manifest_edit(members, |m| m["record_sha256"] = m["record_sha256"].as_str().map(str::to_uppercase).into()),
    );
    add("bundle.json incident INC-01", manifest_edit(members, |m| m["incident"] = "INC-01".into()));
    add("bundle.json entries as a string", manifest_edit(members, |m| m["entries"] = m["entries"].to_string().into()));
    add("bundle.json entries 1.5", manifest_edit(members, |m| m["entries"] = serde_json::json!(1.5)));
    add("bundle.json excerpt as 0", manifest_edit(members, |m| m["excerpt"] = 0.into()));
    add(
        "bundle.json policy_sha256 in upper case",
        manifest_edit(members, |m| m["policy_sha256"] = m["policy_sha256"].as_str().map(str::to_uppercase).into()),
    );
    for (what, suffix) in [("a newline", "\n"), ("a space", " ")] {
        add(
            &format!("bundle.json public_key followed by {what}"),
            manifest_edit(members, |m| {
                m["public_key"] = format!("{}{suffix}", m["public_key"].as_str().unwrap_or("")).into()
            }),
        );
    }
    add(
        "bundle.json public_key in a non-canonical base64 spelling",
        manifest_edit(members, |m| {
            // The last character before the padding carries bits the decoder drops.
            let key = m["public_key"].as_str().unwrap_or("").to_owned();
            let mut chars: Vec<char> = key.chars().collect();
            let last = chars.len() - 2;
            chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
            m["public_key"] = chars.into_iter().collect::<String>().into();
        }),
    );
    let mut spaced = members.clone();
    put(&mut spaced, "bundle.json", {
        let mut text = member(members, "bundle.json").to_vec();
        text.insert(1, b' ');
        text
    });
    add("bundle.json not canonical", spaced);

    // The checkpoint with a second signature line, or signed again without the manifest line.
    let mut witnessed = members.clone();
    put(&mut witnessed, "checkpoint", {
        let mut text = member(members, "checkpoint").to_vec();
        text.extend_from_slice(format!("\u{2014} witness.example {}\n", "A".repeat(92)).as_bytes());
        text
    });
    push("checkpoint with a second signature line", witnessed, Change::Checkpoint);
    let mut bare = members.clone();
    put(&mut bare, "checkpoint", {
        let text = std::str::from_utf8(member(members, "checkpoint")).expect("UTF-8");
        let old = sitrep_core::checkpoint::parse(text).expect("a checkpoint").checkpoint;
        let key_name = old.origin.rsplit_once('/').expect("an origin").0.to_owned();
        Checkpoint { manifest: None, ..old }.sign(&key_name, key).expect("signs").into_bytes()
    });
    push("checkpoint signed without its bundle.json line", bare, Change::Checkpoint);

    // Well-formed changes only the key can vouch for.
    let mut unsigned = |name: &str, members: Members| push(name, members, Change::Unsigned);
    let replaced = format!("{}\n# loosened after the fact\n", String::from_utf8_lossy(member(members, "policy.toml")));
    let mut policy = manifest_edit(members, |m| m["policy_sha256"] = sha256_hex(replaced.as_bytes()).into());
    put(&mut policy, "policy.toml", replaced.into_bytes());
    unsigned("policy.toml replaced and policy_sha256 updated", policy);
    if let Some(item) =
        manifest["evidence"].as_array().and_then(|items| items.iter().position(|i| i["included"] == true))
    {
        let sha = manifest["evidence"][item]["sha256"].as_str().expect("a hash").to_owned();
        let mut stripped = manifest_edit(members, |m| {
            m["evidence"][item]["included"] = false.into();
            m["files"].as_array_mut().expect("files").retain(|f| f.as_str() != Some(format!("blobs/{sha}").as_str()));
        });
        stripped.retain(|(n, _)| *n != format!("blobs/{sha}"));
        unsigned("an evidence file stripped (included: false)", stripped);
    }
    if has_proofs && !excerpt {
        let mut dropped = manifest_edit(members, |m| {
            m["files"].as_array_mut().expect("files").retain(|f| f != "proofs.json");
        });
        dropped.retain(|(n, _)| n != "proofs.json");
        unsigned("a full export's consistency proof dropped", rehash(&dropped));
    }
    if excerpt {
        let mut dropped = edit_json(members, "proofs.json", |p| {
            if let Some(proofs) = p["inclusion"].as_array_mut() {
                proofs.remove(0);
            }
        });
        let record = member(members, "record.jsonl");
        let first = record.iter().position(|&b| b == b'\n').expect("a line") + 1;
        put(&mut dropped, "record.jsonl", record[first..].to_vec());
        let dropped = manifest_edit(&dropped, |m| m["entries"] = (m["entries"].as_u64().unwrap_or(1) - 1).into());
        unsigned("an excerpt's entry dropped with its proof", rehash(&dropped));
    }
    let mut add = |name: &str, members: Members| push(name, members, Change::Malformed);

    if has_proofs {
        let proofs = json_of(members, "proofs.json");
        let edit = |edit: &dyn Fn(&mut Value)| edit_json(members, "proofs.json", edit);
        add("proofs.json consistency null", edit(&|p| p["consistency"] = Value::Null));
        for (what, value) in [
            ("{}", serde_json::json!({})),
            ("[]", serde_json::json!([])),
            ("0", 0.into()),
            ("false", false.into()),
            ("a string", "none".into()),
        ] {
            add(&format!("proofs.json consistency {what}"), edit(&|p| p["consistency"] = value.clone()));
        }
        add("proofs.json inclusion null", edit(&|p| p["inclusion"] = Value::Null));
        add("proofs.json without inclusion", edit(&|p| remove(p, "inclusion")));
        add("proofs.json with an unknown field", edit(&|p| p["witness"] = Value::Null));
        if proofs.get("consistency").is_some() {
            add("proofs.json consistency without proof", edit(&|p| remove(&mut p["consistency"], "proof")));
            add("proofs.json consistency size 0", edit(&|p| p["consistency"]["size"] = 0.into()));
            add("proofs.json consistency size -1", edit(&|p| p["consistency"]["size"] = (-1).into()));
            add(
                "proofs.json consistency root in upper case",
                edit(&|p| p["consistency"]["root"] = p["consistency"]["root"].as_str().map(str::to_uppercase).into()),
            );
            add("proofs.json consistency root null", edit(&|p| p["consistency"]["root"] = Value::Null));
        }
        if excerpt {
            add("proofs.json inclusion seq as a string", edit(&|p| p["inclusion"][0]["seq"] = "2".into()));
            add("proofs.json inclusion path null", edit(&|p| p["inclusion"][0]["path"] = Value::Null));
            add(
                "proofs.json inclusion path in upper case",
                edit(&|p| {
                    p["inclusion"][0]["path"][0] = p["inclusion"][0]["path"][0].as_str().map(str::to_uppercase).into()
                }),
            );
            add("proofs.json inclusion with an unknown field", edit(&|p| p["inclusion"][0]["leaf"] = 0.into()));
        }
    } else {
        // A full export given a proofs file it did not have.
        for (what, text) in [
            ("empty inclusion", r#"{"inclusion":[]}"#),
            ("a null consistency", r#"{"consistency":null,"inclusion":[]}"#),
        ] {
            let mut added = manifest_edit(members, |m| {
                m["files"].as_array_mut().expect("files").insert(4, "proofs.json".into());
            });
            added.insert(4, ("proofs.json".to_owned(), text.as_bytes().to_vec()));
            add(&format!("proofs.json with {what} added"), rehash(&added));
        }
    }
    out
}

/// The verdict of `sitrep verify-bundle` on each file: exit 0 or not.
fn rust_verdicts(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|file| match verify_bundle(file, &[]) {
            (Some(0), _) => "ok".to_owned(),
            (Some(1), stdout) => stdout.trim_end().to_lowercase(),
            (code, stdout) => panic!("verify-bundle {}: exit {code:?}: {stdout}", file.display()),
        })
        .collect()
}

/// A deployment whose INC-1 has facts and two evidence files, a checkpoint saved before the
/// evidence, and three exports of it: full (files and a consistency proof), plain, an excerpt.
struct Exported {
    server: Server,
    dir: tempfile::TempDir,
    early: PathBuf,
    bases: Vec<(&'static str, Members)>,
}

fn exported() -> Exported {
    let (server, cli, dir) = deployment(4);
    let early = dir.path().join("early.checkpoint");
    cli.run(&["checkpoint", "INC-1", "-o", path_str(&early)]).ok();
    let evidence = dir.path().join("evidence");
    std::fs::create_dir(&evidence).expect("a directory");
    for (name, text) in [("gist.txt", "AKIA... in a gist"), ("trail.json", "{\"events\":[1,2,3]}")] {
        std::fs::write(evidence.join(name), text).expect("a file");
        cli.run(&["evidence", "add", "INC-1", path_str(&evidence.join(name))]).ok();
    }
    let record = served(&cli);
    let registered = record.iter().find(|e| e["kind"] == "evidence.registered").expect("a registration")["seq"]
        .as_u64()
        .expect("a seq");
    let mut bases = Vec::new();
    let chosen = format!("2,{registered}");
    for (name, args) in [
        ("full", vec!["--blobs", "--purpose", "mutants", "--since", "3"]),
        ("plain", vec![]),
        ("excerpt", vec!["--blobs", "--purpose", "mutants", "--entries", chosen.as_str(), "--since", "2"]),
    ] {
        let file = dir.path().join(format!("{name}.tar"));
        let mut export = vec!["export", "INC-1", "-o", path_str(&file)];
        export.extend(args);
        cli.run(&export).ok();
        let bytes = std::fs::read(&file).expect("the bundle");
        let members = unpack(&bytes);
        assert_eq!(pack(&members), bytes);
        bases.push((name, members));
    }
    Exported { server, dir, early, bases }
}

#[test]
fn both_verifiers_give_the_same_verdict_on_every_mutant() {
    let Exported { server, dir, bases, .. } = exported();
    let key = stolen_key(&server);
    let mut cases: Vec<Mutant> = Vec::new();
    for (name, members) in &bases {
        cases.push(Mutant { name: format!("{name}: as exported"), members: members.clone(), refuse: false });
        cases.extend(mutants(name, members, &key));
    }
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let file = dir.path().join(format!("mutant-{index}.tar"));
            std::fs::write(&file, pack(&case.members)).expect("a mutant");
            file
        })
        .collect();
    let rust = rust_verdicts(&files);
    let Some(python) = python() else { return };
    let python = python.verdicts(&files);
    assert_eq!(python.len(), files.len());
    let mut wrong = Vec::new();
    for ((case, rust), python) in cases.iter().zip(&rust).zip(&python) {
        assert!(!python.starts_with("crashed"), "{}: the Python verifier crashed: {python}", case.name);
        let (rust_ok, python_ok) = (rust == "ok", python == "ok");
        if rust_ok != python_ok || (case.refuse && rust_ok) || (!case.refuse && !rust_ok) {
            wrong.push(format!("{}:\n    verify-bundle: {rust}\n    verify_bundle.py: {python}", case.name));
        }
    }
    assert!(cases.len() > 200, "{} cases", cases.len());
    assert!(wrong.is_empty(), "{} of {} mutants judged wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Bundles of format 1, as every release before format 2 exported them
// ---------------------------------------------------------------------------------------------

/// The checkpoint signed again with `key` over the bundle's head as format 1 signed it: origin,
/// size and root, without the `bundle.json sha256` line.
fn sign_bare(members: &Members, key: &SigningKey) -> Members {
    let text = std::str::from_utf8(member(members, "checkpoint")).expect("UTF-8");
    let old = sitrep_core::checkpoint::parse(text).expect("a checkpoint").checkpoint;
    let key_name = old.origin.rsplit_once('/').expect("an origin").0.to_owned();
    let signed = Checkpoint { manifest: None, ..old }.sign(&key_name, key).expect("signs");
    let mut bare = members.clone();
    put(&mut bare, "checkpoint", signed.into_bytes());
    bare
}

/// A format-2 export rewritten as the exporter of format 1 wrote it (`git show
/// d581a33:crates/sitrep-core/src/bundle.rs`): the same members, a manifest of `sitrep-bundle/1`
/// without `record_sha256` and `proofs_sha256`, and a checkpoint without the manifest line,
/// signed with the deployment's key.
fn format_1(members: &Members, key: &SigningKey) -> Members {
    let old = manifest_edit(members, |m| {
        m["format"] = "sitrep-bundle/1".into();
        remove(m, "record_sha256");
        remove(m, "proofs_sha256");
    });
    sign_bare(&old, key)
}

/// A JSON member replaced by `edit` of it, written canonically, with no hash updated anywhere
/// (format 1 has none but the policy's).
fn edit_plain(members: &Members, name: &str, edit: impl FnOnce(&mut Value)) -> Members {
    let mut value = json_of(members, name);
    edit(&mut value);
    let mut changed = members.clone();
    put(&mut changed, name, canonical_json(&value).expect("canonical").into_bytes());
    changed
}

/// One format-1 case: its members, whether both verifiers must refuse it, and, when they
/// must not, words its `not vouched for` must hold.
struct Old {
    name: String,
    members: Members,
    refuse: bool,
    unvouched: Vec<&'static str>,
}

/// Format-1 bundles made from one export, changed in what their signature covers (refused) and
/// in what only their manifest says (verified, and reported as not vouched for).
fn format_1_cases(base: &str, members: &Members, key: &SigningKey) -> Vec<Old> {
    let old = format_1(members, key);
    let manifest = json_of(&old, "bundle.json");
    let excerpt = manifest["excerpt"] == true;
    let has_proofs = old.iter().any(|(n, _)| n == "proofs.json");
    let has_consistency = has_proofs && json_of(&old, "proofs.json").get("consistency").is_some();
    let mut out = Vec::new();
    let mut case = |name: &str, members: Members, refuse: bool, unvouched: Vec<&'static str>| {
        out.push(Old { name: format!("{base} as format 1: {name}"), members, refuse, unvouched });
    };
    let mut always = vec!["policy.toml", "whose key signed it"];
    if excerpt {
        always.push("no other entries");
    }
    if !has_consistency {
        always.push("consistency proof");
    }
    case("as exported", old.clone(), false, always.clone());

    // What the manifest alone says: a verifier of format 1 cannot tell, and must not vouch for it.
    let replaced = format!("{}\n# loosened after the fact\n", String::from_utf8_lossy(member(&old, "policy.toml")));
    let mut policy = manifest_edit(&old, |m| m["policy_sha256"] = sha256_hex(replaced.as_bytes()).into());
    put(&mut policy, "policy.toml", replaced.clone().into_bytes());
    case(
        "policy.toml replaced and policy_sha256 updated",
        policy,
        false,
        vec!["policy.toml (format 1 does not sign it)"],
    );
    let mut unhashed = old.clone();
    put(&mut unhashed, "policy.toml", replaced.into_bytes());
    case("policy.toml replaced, policy_sha256 not", unhashed, true, vec![]);
    if let Some(item) =
        manifest["evidence"].as_array().and_then(|items| items.iter().position(|i| i["included"] == true))
    {
        let sha = manifest["evidence"][item]["sha256"].as_str().expect("a hash").to_owned();
        let blob = format!("blobs/{sha}");
        let mut stripped = manifest_edit(&old, |m| {
            m["evidence"][item]["included"] = false.into();
            m["files"].as_array_mut().expect("files").retain(|f| f.as_str() != Some(blob.as_str()));
        });
        stripped.retain(|(n, _)| *n != blob);
        case(
            "an evidence file stripped (included: false)",
            stripped,
            false,
            vec!["nor whether the export left them out"],
        );
        let mut changed = old.clone();
        let mut data = member(&old, &blob).to_vec();
        data[0] ^= 0x20;
        put(&mut changed, &blob, data);
        case("an evidence file changed", changed, true, vec![]);
    }
    if has_proofs && !excerpt {
        let mut dropped = manifest_edit(&old, |m| {
            m["files"].as_array_mut().expect("files").retain(|f| f != "proofs.json");
        });
        dropped.retain(|(n, _)| n != "proofs.json");
        case("a full export's consistency proof dropped", dropped, false, vec!["consistency proof"]);
    }
    if excerpt {
        let record = member(&old, "record.jsonl");
        let first = record.iter().position(|&b| b == b'\n').expect("a line") + 1;
        let mut dropped = edit_plain(&old, "proofs.json", |p| {
            if let Some(proofs) = p["inclusion"].as_array_mut() {
                proofs.remove(0);
            }
        });
        put(&mut dropped, "record.jsonl", record[first..].to_vec());
        let dropped = manifest_edit(&dropped, |m| m["entries"] = (m["entries"].as_u64().unwrap_or(1) - 1).into());
        // The dropped entry registered no evidence here, so the evidence listing still fits.
        case("an excerpt's entry dropped with its proof", dropped, false, vec!["no other entries"]);
        let mut unproven = old.clone();
        put(&mut unproven, "record.jsonl", record[first..].to_vec());
        let unproven = manifest_edit(&unproven, |m| m["entries"] = (m["entries"].as_u64().unwrap_or(1) - 1).into());
        case("an excerpt's entry dropped, its proof kept", unproven, true, vec![]);
        case(
            "an inclusion path changed",
            edit_plain(&old, "proofs.json", |p| p["inclusion"][0]["path"][0] = "0".repeat(64).into()),
            true,
            vec![],
        );
    }
    if has_consistency {
        case(
            "the consistency proof's root changed",
            edit_plain(&old, "proofs.json", |p| p["consistency"]["root"] = "1".repeat(64).into()),
            true,
            vec![],
        );
        case(
            "proofs.json consistency null",
            edit_plain(&old, "proofs.json", |p| p["consistency"] = Value::Null),
            true,
            vec![],
        );
    }

    // What the signature covers: the entries, the root and size, the signature itself.
    let record = String::from_utf8(member(&old, "record.jsonl").to_vec()).expect("UTF-8");
    let lines: Vec<&str> = record.lines().collect();
    let mut rewritten = old.clone();
    put(&mut rewritten, "record.jsonl", record.replacen("\"body\":{", "\"body\":{\"x\":1,", 1).into_bytes());
    case("an entry changed, its hash not", rewritten, true, vec![]);
    let mut rehashed: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let last = rehashed.len() - 1;
    rehashed[last]["body"]["forged"] = true.into();
    let mut unsigned = rehashed[last].clone();
    remove(&mut unsigned, "hash");
    rehashed[last]["hash"] = sha256_hex(canonical_json(&unsigned).expect("canonical").as_bytes()).into();
    let text: String = rehashed.iter().map(|e| canonical_json(e).expect("canonical") + "\n").collect();
    let mut forged = old.clone();
    put(&mut forged, "record.jsonl", text.into_bytes());
    case("the last entry changed and hashed again", forged, true, vec![]);
    if !excerpt {
        let mut cut = old.clone();
        put(
            &mut cut,
            "record.jsonl",
            lines[..lines.len() - 1].iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes(),
        );
        let cut = manifest_edit(&cut, |m| m["entries"] = (lines.len() - 1).into());
        case("the last entry dropped", cut, true, vec![]);
    }
    let mut resized = old.clone();
    put(&mut resized, "checkpoint", {
        let text = std::str::from_utf8(member(&old, "checkpoint")).expect("UTF-8").to_owned();
        let (size, _) = text.split_once('\n').expect("lines").1.split_once('\n').expect("a size");
        text.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size.parse::<u64>().expect("a size") + 1), 1)
            .into_bytes()
    });
    case("the checkpoint's size changed", resized, true, vec![]);
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let other = manifest_edit(&old, |m| {
        m["public_key"] = sitrep_core::checkpoint::encode_public_key(&stranger.verifying_key()).into();
    });
    case("the manifest naming another key", other.clone(), true, vec![]);
    case("signed again by another key it names", sign_bare(&other, &stranger), false, always.clone());
    let mut witnessed = old.clone();
    put(&mut witnessed, "checkpoint", {
        let mut text = member(&old, "checkpoint").to_vec();
        text.extend_from_slice(format!("\u{2014} witness.example {}\n", "A".repeat(92)).as_bytes());
        text
    });
    case("checkpoint with a second signature line", witnessed, true, vec![]);

    // The spellings and shapes of format 1's manifest, as strictly as format 2's.
    for field in manifest.as_object().expect("an object").keys() {
        case(&format!("bundle.json without {field}"), manifest_edit(&old, |m| remove(m, field)), true, vec![]);
        case(&format!("bundle.json {field} null"), manifest_edit(&old, |m| m[field] = Value::Null), true, vec![]);
    }
    case("bundle.json with an unknown field", manifest_edit(&old, |m| m["signed"] = true.into()), true, vec![]);
    case(
        "bundle.json with record_sha256",
        manifest_edit(&old, |m| m["record_sha256"] = sha256_hex(record.as_bytes()).into()),
        true,
        vec![],
    );
    case(
        "bundle.json evidence renamed",
        manifest_edit(&old, |m| {
            if let Some(item) = m["evidence"].get_mut(0) {
                item["name"] = "other.txt".into();
            } else {
                m["evidence"] =
                    serde_json::json!([{"included": false, "name": "x", "sha256": "0".repeat(64), "size": 1}]);
            }
        }),
        true,
        vec![],
    );
    let mut spaced = old.clone();
    put(&mut spaced, "bundle.json", {
        let mut text = member(&old, "bundle.json").to_vec();
        text.insert(1, b' ');
        text
    });
    case("bundle.json not canonical", spaced, true, vec![]);
    // A format-1 manifest with a checkpoint that signs it, as format 2 does: not what format 1
    // was, and refused rather than read either way.
    case("its checkpoint with a bundle.json line", reseal(&old, key), true, vec![]);
    // A format-2 bundle relabelled: its manifest's hashes and the checkpoint's line kept.
    case("format 2 relabelled as 1", manifest_edit(members, |m| m["format"] = "sitrep-bundle/1".into()), true, vec![]);
    out
}

/// `not vouched for` as `verify-bundle --json` gives it, or its `BROKEN:` line.
fn rust_report(file: &Path) -> Result<Vec<String>, String> {
    let (code, stdout) = verify_bundle(file, &["--json"]);
    let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("JSON: {stdout}"));
    match code {
        Some(0) => Ok(answer["not_vouched_for"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a sentence").to_owned())
            .collect()),
        Some(1) => Err(answer["reason"].as_str().unwrap_or_default().to_owned()),
        code => panic!("verify-bundle {}: exit {code:?}: {stdout}", file.display()),
    }
}

impl Python {
    /// `not vouched for` of each file as the Python verifier's `verify()` gives it (a JSON list),
    /// or "broken: …".
    fn reports(&self, files: &[PathBuf]) -> Vec<String> {
        let driver = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import verify_bundle as v
for path in sys.argv[2:]:
    try:
        print(json.dumps(v.verify(path)["not_vouched_for"]))
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
}

#[test]
fn both_verifiers_verify_a_format_1_bundle_by_what_its_signature_covers() {
    let Exported { server, dir, early, bases } = exported();
    let key = stolen_key(&server);
    let cases: Vec<Old> = bases.iter().flat_map(|(name, members)| format_1_cases(name, members, &key)).collect();
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let file = dir.path().join(format!("format-1-{index}.tar"));
            std::fs::write(&file, pack(&case.members)).expect("a bundle");
            file
        })
        .collect();
    let rust: Vec<Result<Vec<String>, String>> = files.iter().map(|file| rust_report(file)).collect();
    let reports = python().map(|python| python.reports(&files));
    let mut wrong = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let verdict = match &rust[index] {
            Ok(unvouched) => {
                let said = unvouched.join("; ");
                let missing: Vec<&&str> = case.unvouched.iter().filter(|words| !said.contains(**words)).collect();
                if case.refuse {
                    Some(format!("verifies: {said}"))
                } else if !missing.is_empty() {
                    Some(format!("does not say {missing:?} is not vouched for: {said}"))
                } else {
                    None
                }
            }
            Err(reason) if !case.refuse => Some(format!("refused: {reason}")),
            Err(_) => None,
        };
        if let Some(verdict) = verdict {
            wrong.push(format!("{}: verify-bundle {verdict}", case.name));
        }
        if let Some(python) = &reports {
            let agrees = match &rust[index] {
                Ok(unvouched) => serde_json::from_str::<Vec<String>>(&python[index]).ok().as_ref() == Some(unvouched),
                Err(_) => python[index].starts_with("broken: "),
            };
            if !agrees {
                wrong.push(format!(
                    "{}:\n    verify-bundle: {:?}\n    verify_bundle.py: {}",
                    case.name, rust[index], python[index]
                ));
            }
        }
    }
    assert!(cases.len() > 60, "{} cases", cases.len());
    assert!(
        wrong.is_empty(),
        "{} of {} format-1 bundles judged wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );

    // What it says: format 1 named, and the policy not stated as signed; the key checked.
    let (_, plain) = bases.iter().find(|(name, _)| *name == "plain").expect("the plain export");
    let file = dir.path().join("plain-format-1.tar");
    std::fs::write(&file, pack(&format_1(plain, &key))).expect("a bundle");
    let pubkey = server.data.join("deployment.pub");
    let (code, stdout) = verify_bundle(&file, &["--key", path_str(&pubkey)]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.starts_with("ok: INC-1 (format 1: the signature covers the entries, not the manifest): "),
        "{stdout}"
    );
    assert!(!stdout.contains("signed as in force"), "{stdout}");
    assert!(stdout.contains("not vouched for: that policy.toml was in force at export"), "{stdout}");
    let other = sitrep_core::checkpoint::encode_public_key(&SigningKey::from_bytes(&[7; 32]).verifying_key());
    assert!(broken(&file, &["--key", &other]).starts_with("BROKEN: --key: "));
    // An earlier checkpoint still shows a full format-1 export's record only grew.
    let args = ["--checkpoint", path_str(&early)];
    assert_eq!(verify_bundle(&file, &args).0, Some(0));
    if let Some(python) = python() {
        python.agrees(&file, &["--key", path_str(&pubkey)], 0);
        python.agrees(&file, &["--key", &other], 1);
        python.agrees(&file, &args, 0);
    }
}

#[test]
fn both_verifiers_judge_an_earlier_checkpoint_alike() {
    let Exported { server, dir, early, bases } = exported();
    let key = stolen_key(&server);
    let python = python();
    let mut wrong = Vec::new();
    for (base, members) in &bases {
        let file = dir.path().join(format!("{base}-again.tar"));
        std::fs::write(&file, pack(members)).expect("the bundle");
        let own = String::from_utf8(member(members, "checkpoint").to_vec()).expect("UTF-8");
        let head = sitrep_core::checkpoint::parse(&own).expect("a checkpoint").checkpoint;
        let key_name = head.origin.rsplit_once('/').expect("an origin").0.to_owned();
        let sign = |checkpoint: Checkpoint| checkpoint.sign(&key_name, &key).expect("signs");
        let plain = sign(Checkpoint { manifest: None, ..head.clone() });
        let signature = own.split_once("\n\n").expect("a blank line").1.to_owned();
        let excerpt = *base == "excerpt";
        let early_text = std::fs::read_to_string(&early).expect("the early checkpoint");
        for (what, text, extends) in [
            ("its own checkpoint", own.clone(), true),
            ("the same head as the checkpoint route signs it", plain.clone(), true),
            (
                "the same head with a witness's line",
                format!("{plain}\u{2014} witness.example {}\n", "A".repeat(92)),
                true,
            ),
            ("its own checkpoint with the deployment's line twice", format!("{own}{signature}"), false),
            ("the same size with another root", sign(Checkpoint { root: [0x11; 32], ..head.clone() }), false),
            ("a larger size", sign(Checkpoint { size: head.size + 1, ..head.clone() }), false),
            ("size 0", sign(Checkpoint { size: 0, root: [0; 32], manifest: None, ..head.clone() }), true),
            ("an extension line in upper case", own.replacen("bundle.json sha256 ", "BUNDLE.JSON sha256 ", 1), false),
            // Saved before the evidence: a full export shows its first entries unchanged; an
            // excerpt needs a consistency proof from exactly that size, which it lacks.
            ("saved earlier with `sitrep checkpoint`", early_text, !excerpt),
        ] {
            let path = dir.path().join(format!("{base}-earlier-{}.checkpoint", what.replace(' ', "-")));
            std::fs::write(&path, &text).expect("a checkpoint");
            let args = ["--checkpoint", path_str(&path)];
            let (rust, stdout) = verify_bundle(&file, &args);
            let expected = if extends { 0 } else { 1 };
            if rust != Some(expected) {
                wrong.push(format!("{base}, {what}: verify-bundle exits {rust:?}: {stdout}"));
            }
            if let Some(python) = &python {
                let (code, stdout) = python.run(&file, &args);
                if code != Some(expected) {
                    wrong.push(format!("{base}, {what}: verify_bundle.py exits {code:?}: {stdout}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A full export's record rewritten by `edit` and made consistent again as an insider holding
/// the deployment's key would: each entry's hash recomputed over its fields, each `prev` linked
/// to the entry before (unless `relink` is false), the tree's root, the manifest's count and
/// hash of the record, and the checkpoint signed again. What is left to refuse is the format.
fn forge(members: &Members, key: &SigningKey, relink: bool, edit: impl FnOnce(&mut Vec<Value>)) -> Members {
    let text = std::str::from_utf8(member(members, "record.jsonl")).expect("UTF-8");
    let mut entries: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).expect("JSON")).collect();
    edit(&mut entries);
    let mut record = Vec::new();
    let mut leaves = Vec::new();
    let mut prev: Option<String> = None;
    for entry in &mut entries {
        if let (true, Some(prev), Some(object)) = (relink, &prev, entry.as_object_mut())
            && object.contains_key("prev")
        {
            object.insert("prev".to_owned(), prev.clone().into());
        }
        let mut unsigned = entry.clone();
        remove(&mut unsigned, "hash");
        let hash = sha256_hex(canonical_json(&unsigned).expect("canonical").as_bytes());
        if let Some(object) = entry.as_object_mut()
            && object.contains_key("hash")
        {
            object.insert("hash".to_owned(), hash.clone().into());
        }
        let bytes: Vec<u8> = hex::decode(&hash).expect("hex");
        leaves.push(sitrep_core::merkle::leaf_hash(&bytes));
        record.extend_from_slice(canonical_json(entry).expect("canonical").as_bytes());
        record.push(b'\n');
        prev = Some(hash);
    }
    let mut forged = members.clone();
    put(&mut forged, "record.jsonl", record);
    let forged = manifest_edit(&rehash(&forged), |m| m["entries"] = entries.len().into());
    let text = std::str::from_utf8(member(&forged, "checkpoint")).expect("UTF-8");
    let head = sitrep_core::checkpoint::parse(text).expect("a checkpoint").checkpoint;
    let mut resized = forged.clone();
    let key_name = head.origin.rsplit_once('/').expect("an origin").0.to_owned();
    let root = sitrep_core::merkle::root(&leaves);
    let checkpoint = Checkpoint { size: entries.len() as u64, root, ..head }.sign(&key_name, key).expect("signs");
    put(&mut resized, "checkpoint", checkpoint.into_bytes());
    reseal(&resized, key)
}

#[test]
fn both_verifiers_judge_a_record_forged_with_the_key_alike() {
    let Exported { server, dir, bases, .. } = exported();
    let key = stolen_key(&server);
    let (_, plain) = bases.iter().find(|(name, _)| *name == "plain").expect("the plain export");
    let last = |entries: &[Value]| entries.len() - 1;
    let registration =
        |entries: &[Value]| entries.iter().position(|e| e["kind"] == "evidence.registered").expect("a registration");
    let mut cases: Vec<(&str, Members, bool)> = vec![
        // What an insider with the key can do, and the format cannot refuse (docs/record-format.md,
        // "What the chain does and does not prove"): each verifies.
        ("nothing changed, forged again", forge(plain, &key, true, |_| {}), false),
        (
            "a fact's text rewritten",
            forge(plain, &key, true, |e| e[2]["body"]["text"] = "Nothing happened".into()),
            false,
        ),
        (
            "a well-formed entry appended",
            forge(plain, &key, true, |e| {
                let mut next = e[last(e)].clone();
                next["seq"] = (e.len() + 1).into();
                e.push(next);
            }),
            false,
        ),
        (
            "the declaration's policy hash removed",
            forge(plain, &key, true, |e| remove(&mut e[0]["body"], "policy")),
            false,
        ),
        // What the format refuses even then.
        (
            "the last prev in upper case",
            forge(plain, &key, false, |e| {
                let i = last(e);
                e[i]["prev"] = e[i]["prev"].as_str().map(str::to_uppercase).into();
            }),
            true,
        ),
        (
            "the declaration numbered INC-01",
            forge(plain, &key, true, |e| e[0]["body"]["number"] = "INC-01".into()),
            true,
        ),
        ("the declaration without a number", forge(plain, &key, true, |e| remove(&mut e[0]["body"], "number")), true),
        ("seq 1 of another kind", forge(plain, &key, true, |e| e[0]["kind"] = "incident.opened".into()), true),
        (
            "a registration without a name",
            forge(plain, &key, true, |e| {
                let i = registration(e);
                remove(&mut e[i]["body"], "name");
            }),
            true,
        ),
        (
            "a registration's size as a string",
            forge(plain, &key, true, |e| {
                let i = registration(e);
                e[i]["body"]["size"] = e[i]["body"]["size"].to_string().into();
            }),
            true,
        ),
        ("an entry marked redacted", forge(plain, &key, true, |e| e[1]["redacted"] = true.into()), true),
        ("an entry of version 2", forge(plain, &key, true, |e| e[1]["v"] = 2.into()), true),
        (
            "a time with a space",
            forge(plain, &key, true, |e| {
                e[1]["at"] = e[1]["at"].as_str().map(|at| at.replace('T', " ")).into();
            }),
            true,
        ),
        (
            "a time in milliseconds",
            forge(plain, &key, true, |e| {
                e[1]["at"] = e[1]["at"].as_str().map(|at| format!("{}Z", &at[..23])).into();
            }),
            true,
        ),
        (
            "a time going backwards",
            forge(plain, &key, true, |e| {
                let i = last(e);
                e[i]["at"] = "2000-01-01T00:00:00.000000Z".into();
            }),
            true,
        ),
        ("a body that is a list", forge(plain, &key, true, |e| e[1]["body"] = serde_json::json!([1])), true),
        ("an actor that is a number", forge(plain, &key, true, |e| e[1]["actor"] = 7.into()), true),
        ("a kind that is null", forge(plain, &key, true, |e| e[1]["kind"] = Value::Null), true),
        (
            "a seq skipped",
            forge(plain, &key, true, |e| {
                let i = last(e);
                e[i]["seq"] = (e.len() + 1).into();
            }),
            true,
        ),
    ];
    // A registration whose hash is in upper case, listed so in the manifest too.
    let upper = forge(plain, &key, true, |e| {
        let i = registration(e);
        e[i]["body"]["sha256"] = e[i]["body"]["sha256"].as_str().map(str::to_uppercase).into();
    });
    let upper = manifest_edit(&upper, |m| {
        m["evidence"][0]["sha256"] = m["evidence"][0]["sha256"].as_str().map(str::to_uppercase).into();
    });
    cases.push(("a registration's hash in upper case", reseal(&upper, &key), true));

    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(index, (_, members, _))| {
            let file = dir.path().join(format!("forged-{index}.tar"));
            std::fs::write(&file, pack(members)).expect("a forgery");
            file
        })
        .collect();
    let rust = rust_verdicts(&files);
    let python = python().map(|python| python.verdicts(&files));
    let mut wrong = Vec::new();
    for (index, (what, _, refuse)) in cases.iter().enumerate() {
        let python = python.as_ref().map(|verdicts| verdicts[index].as_str());
        let rust_ok = rust[index] == "ok";
        if rust_ok == *refuse || python.is_some_and(|p| (p == "ok") != rust_ok) {
            wrong.push(format!("{what}:\n    verify-bundle: {}\n    verify_bundle.py: {python:?}", rust[index]));
        }
    }
    assert!(wrong.is_empty(), "{} of {} forgeries judged wrongly:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
}
