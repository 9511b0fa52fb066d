//! `sitrep verify-bundle`: checks an export bundle offline, with no server and no data
//! directory. The checks themselves are `sitrep_core::bundle`'s; this reads the file in pieces
//! (evidence files are hashed as they stream past) and reports.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sitrep_core::bundle::{FORMAT_1, Failure, Options, Reader, Verified};
use sitrep_core::checkpoint::{VerifyingKey, parse_public_key};

use crate::cli::VerifyBundleArgs;
use crate::exit::Exit;

/// Bytes read from the file at a time.
const PIECE: usize = 1 << 20;

/// Reads and verifies the bundle at `path`: `Ok(Err(failure))` when it does not verify, `Err`
/// when it cannot be read at all.
pub(crate) fn verify_file(
    path: &Path,
    options: &Options,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Result<Verified, Failure>> {
    let mut file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut reader = Reader::new();
    let mut buffer = vec![0u8; PIECE];
    loop {
        let read = file.read(&mut buffer).with_context(|| path.display().to_string())?;
        if read == 0 {
            break;
        }
        if let Err(failure) = reader.feed(&buffer[..read]) {
            return Ok(Err(failure));
        }
        progress(reader.offset());
    }
    Ok(reader.finish().and_then(|bundle| bundle.verify(options)))
}

/// `--key`: the public key as base64, or a file holding it (such as `deployment.pub`).
fn read_key(given: &str) -> anyhow::Result<VerifyingKey> {
    let path = Path::new(given);
    let text = if path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("--key {given}"))?
    } else {
        given.to_owned()
    };
    parse_public_key(&text)
        .with_context(|| format!("--key {given}: give the deployment's public key (base64) or a file holding it"))
}

pub(crate) fn verify(args: &VerifyBundleArgs, json: bool) -> anyhow::Result<Exit> {
    let key = args.key.as_deref().map(read_key).transpose()?;
    let earlier = match &args.checkpoint {
        None => None,
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("--checkpoint {}", path.display()))?),
    };
    let length = std::fs::metadata(&args.file).with_context(|| args.file.display().to_string())?.len();
    let bar = if std::io::stderr().is_terminal() && !json {
        let bar = ProgressBar::new(length);
        bar.set_style(ProgressStyle::with_template(
            "verifying {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )?);
        bar
    } else {
        ProgressBar::hidden()
    };
    let outcome = verify_file(&args.file, &Options { key, earlier }, |done| bar.set_position(done));
    bar.finish_and_clear();
    match outcome? {
        Ok(verified) => {
            if json {
                let mut answer = serde_json::to_value(&verified)?;
                answer["ok"] = serde_json::Value::Bool(true);
                println!("{answer}");
            } else {
                println!("{}", summary(&verified));
            }
            Ok(Exit::Ok)
        }
        Err(failure) => {
            if json {
                let mut answer = serde_json::to_value(&failure)?;
                answer["ok"] = serde_json::Value::Bool(false);
                println!("{answer}");
            } else {
                println!("BROKEN: {}", crate::client::one_line(&failure.to_string()));
            }
            Ok(Exit::Broken)
        }
    }
}

/// One line saying what holds. Everything stated is covered by the signature (the checkpoint
/// signs the manifest, which binds every member; in format 1, the entries only); what the bundle
/// names but does not vouch for is said as such.
fn summary(v: &Verified) -> String {
    let format_1 = v.format == FORMAT_1;
    let what = if v.excerpt {
        let seqs: Vec<String> = v.seqs.iter().map(ToString::to_string).collect();
        format!(
            "an excerpt of {} of {} entries (seq {}), each proven in the signed tree",
            v.entries,
            v.size,
            seqs.join(", ")
        )
    } else {
        format!("{} entries, the whole record, chained and matching the signed root", v.entries)
    };
    let key = if v.key_given {
        format!("signed by {} with the key given", v.key_name)
    } else {
        format!("signed by {} with the key in the bundle ({})", v.key_name, v.public_key)
    };
    let items = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let evidence = match (v.evidence, v.blobs) {
        (0, _) => "no evidence".to_owned(),
        (listed, 0) => format!("{} listed, no files included", items(listed, "evidence item", "evidence items")),
        (listed, files) => format!(
            "{} listed, {} matching {} SHA-256 and size",
            items(listed, "evidence item", "evidence items"),
            items(files, "file", "files"),
            if files == 1 { "its" } else { "their" }
        ),
    };
    let policy = match (v.policy_as_declared, format_1) {
        (Some(true), false) => "; the policy signed as in force at export is the one in force at declaration",
        (Some(false), false) => "; the policy signed as in force at export was replaced after declaration",
        (None, false) => "; the policy is the one signed as in force at export",
        // Format 1 does not sign policy.toml: only the declaration's hash of it is signed.
        (Some(true), true) => "; policy.toml is the policy the signed declaration names",
        (_, true) => "",
    };
    let format = if format_1 { " (format 1: the signature covers the entries, not the manifest)" } else { "" };
    let mut line = format!("ok: {}{format}: {what}; {key}; {evidence}{policy}", v.incident);
    if let Some(size) = v.consistency_from {
        line.push_str(&format!("; consistent with the record's first {size} entries"));
    }
    if let Some(size) = v.extends_earlier {
        line.push_str(&format!("; it extends the earlier checkpoint of {size} entries"));
    }
    if !v.not_vouched_for.is_empty() {
        line.push_str(&format!("; not vouched for: {}", v.not_vouched_for.join("; ")));
    }
    line
}
