//! The data directory: where a deployment keeps its database and its signing key.
//!
//! ```text
//! sitrep-data/
//!   sitrep.db            the SQLite store (with -wal and -shm beside it); absent when the
//!                        records are in PostgreSQL (`database` in the configuration)
//!   deployment.key       Ed25519 private key seed, base64, mode 0600
//!   deployment.pub       Ed25519 public key, base64
//!   lock                 held (flock) by the one server using this directory
//!   blobs/               evidence, content-addressed (see `blobs`)
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{0} already exists and is not empty; refusing to overwrite an existing deployment")]
    NotEmpty(PathBuf),
    #[error("{0} holds no sitrep deployment; create one with `sitrep init --data {0} --admin NAME`")]
    Missing(PathBuf),
    #[error("{0} is in use by another sitrep process (the lock file is held)")]
    Locked(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid key file: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("no secure random numbers are available: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io { path: path.to_owned(), source }
}

/// A deployment's directory, locked for this process when opened for writing.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    _lock: Option<File>,
}

/// Fills a buffer from the operating system's secure random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], DataDirError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| DataDirError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A new API token (shown once) and the SHA-256 under which it is recorded.
pub fn new_token() -> Result<(String, String), DataDirError> {
    let token = format!("sitrep_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
    let sha256 = token_sha256(&token);
    Ok((token, sha256))
}

pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl DataDir {
    /// Creates a new, empty deployment directory with a fresh signing key.
    pub fn create(root: &Path) -> Result<DataDir, DataDirError> {
        if root.exists() {
            let mut entries = fs::read_dir(root).map_err(io(root))?;
            if entries.next().is_some() {
                return Err(DataDirError::NotEmpty(root.to_owned()));
            }
        } else {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(io(root))?;
        }
        let dir = DataDir::lock(root)?;
        let key = SigningKey::from_bytes(&random_bytes::<32>()?);
        write_new(&dir.key_path(), STANDARD.encode(key.to_bytes()).as_bytes(), 0o600)?;
        write_new(&dir.public_key_path(), STANDARD.encode(key.verifying_key().to_bytes()).as_bytes(), 0o644)?;
        Ok(dir)
    }

    /// Opens an existing deployment for the one process that will write to it.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        if !DataDir::initialised(root) {
            return Err(DataDirError::Missing(root.to_owned()));
        }
        DataDir::lock(root)
    }

    /// Names an existing deployment's files without locking it, for read-only tools.
    pub fn inspect(root: &Path) -> Result<DataDir, DataDirError> {
        if !DataDir::initialised(root) {
            return Err(DataDirError::Missing(root.to_owned()));
        }
        Ok(DataDir { root: root.to_owned(), _lock: None })
    }

    /// `sitrep init` made this directory: its signing key is there (the records may be in the
    /// SQLite file beside it or in PostgreSQL).
    fn initialised(root: &Path) -> bool {
        root.join("deployment.key").exists()
    }

    fn lock(root: &Path) -> Result<DataDir, DataDirError> {
        let path = root.join("lock");
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDir { root: root.to_owned(), _lock: Some(file) }),
            Err(fs::TryLockError::WouldBlock) => Err(DataDirError::Locked(root.to_owned())),
            Err(fs::TryLockError::Error(source)) => Err(DataDirError::Io { path, source }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database_path(&self) -> PathBuf {
        self.root.join("sitrep.db")
    }

    pub fn blobs_path(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn key_path(&self) -> PathBuf {
        self.root.join("deployment.key")
    }

    pub fn public_key_path(&self) -> PathBuf {
        self.root.join("deployment.pub")
    }

    /// The deployment's Ed25519 signing key.
    pub fn signing_key(&self) -> Result<SigningKey, DataDirError> {
        let path = self.key_path();
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| DataDirError::BadKey { path: path.clone(), reason: e.to_string() })?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|_| DataDirError::BadKey { path: path.clone(), reason: "not 32 bytes".into() })?;
        Ok(SigningKey::from_bytes(&seed))
    }

    /// The public key as recorded in the organisation record (base64).
    pub fn public_key(&self) -> Result<String, DataDirError> {
        Ok(STANDARD.encode(self.signing_key()?.verifying_key().to_bytes()))
    }
}

/// Writes a file that must not already exist, fsyncs it, then fsyncs the directory.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), DataDirError> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io(path))?;
    file.write_all(contents).map_err(io(path))?;
    file.write_all(b"\n").map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    if let Some(parent) = path.parent() {
        File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn create_makes_a_private_key_and_refuses_to_overwrite() {
        let parent = tempfile::tempdir().expect("temp dir");
        let root = parent.path().join("data");
        let dir = DataDir::create(&root).expect("creates");
        let mode = fs::metadata(dir.key_path()).expect("key exists").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = dir.signing_key().expect("key loads");
        assert_eq!(dir.public_key().expect("public key"), STANDARD.encode(key.verifying_key().to_bytes()));
        drop(dir);
        assert!(matches!(DataDir::create(&root), Err(DataDirError::NotEmpty(_))));
    }

    #[test]
    fn only_one_process_holds_the_directory() {
        let parent = tempfile::tempdir().expect("temp dir");
        let root = parent.path().join("data");
        let _held = DataDir::create(&root).expect("creates");
        fs::write(root.join("sitrep.db"), b"").expect("placeholder");
        assert!(matches!(DataDir::open(&root), Err(DataDirError::Locked(_))));
    }

    #[test]
    fn tokens_are_random_and_recorded_by_hash() {
        let (a, a_hash) = new_token().expect("token");
        let (b, _) = new_token().expect("token");
        assert_ne!(a, b);
        assert!(a.starts_with("sitrep_") && a.len() == 7 + 43, "{a}");
        assert_eq!(a_hash, token_sha256(&a));
        assert_eq!(a_hash.len(), 64);
    }
}
