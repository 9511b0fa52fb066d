//! Evidence blobs: content-addressed files in the data directory.
//!
//! ```text
//! sitrep-data/blobs/
//!   sha256/3f/3f2a…   one file per distinct content, named by its SHA-256, read-only
//!   incoming/         uploads in progress; emptied when the store opens
//! ```
//!
//! A blob is written to `incoming/`, hashed as it streams, fsynced, renamed to its hash and the
//! directory fsynced; only then may the record name it. So a crash mid-upload leaves at most a
//! stray file in `incoming/` (cleared on the next start) and never a registered partial blob.
//! Storage paths come from the hash alone: the uploaded name never touches the filesystem. The
//! application never modifies or deletes a stored blob.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::datadir::random_bytes;

/// Bytes kept from the start of an upload, for sniffing its media type.
pub const SNIFF_BYTES: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("evidence {0} is not in the blob store")]
    Missing(String),
    /// The stored bytes no longer hash to the name they were stored under.
    #[error("evidence {sha256}: the stored blob does not match its hash (it now hashes to {actual})")]
    Corrupt { sha256: String, actual: String },
    #[error("'{0}' is not a SHA-256")]
    BadName(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_owned(), source }
}

/// The blob directory of one deployment.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob now durably stored under its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub sha256: String,
    pub size: u64,
    /// The first bytes, for sniffing the media type.
    pub head: Vec<u8>,
    /// Whether identical content was already stored (and so was not written again).
    pub existed: bool,
}

impl BlobStore {
    /// Opens (creating if needed) the blob directory under `root` and clears uploads a crash
    /// left unfinished.
    pub fn open(root: &Path) -> Result<BlobStore, BlobError> {
        let store = BlobStore { root: root.to_owned() };
        for dir in [store.content_dir(), store.incoming_dir()] {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(io_at(&dir))?;
        }
        let incoming = store.incoming_dir();
        for entry in fs::read_dir(&incoming).map_err(io_at(&incoming))? {
            let path = entry.map_err(io_at(&incoming))?.path();
            fs::remove_file(&path).map_err(io_at(&path))?;
        }
        Ok(store)
    }

    /// Opens an existing blob directory without changing anything (for `sitrep verify`).
    pub fn inspect(root: &Path) -> BlobStore {
        BlobStore { root: root.to_owned() }
    }

    fn content_dir(&self) -> PathBuf {
        self.root.join("sha256")
    }

    fn incoming_dir(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// Where the blob with this hash lives; the hash must be 64 lower-case hex digits.
    pub fn path(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        if !sitrep_core::entry::is_sha256(sha256) {
            return Err(BlobError::BadName(sha256.to_owned()));
        }
        Ok(self.content_dir().join(&sha256[..2]).join(sha256))
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_ok_and(|p| p.is_file())
    }

    /// Starts receiving an upload of at most `limit` bytes.
    pub async fn receive(&self, limit: u64) -> Result<Upload, BlobError> {
        let temp = self.incoming_dir().join(format!(
            "upload-{}",
            hex::encode(random_bytes::<16>().map_err(|e| {
                BlobError::Io { path: self.incoming_dir(), source: io::Error::other(e.to_string()) }
            })?)
        ));
        let file =
            tokio::fs::OpenOptions::new().write(true).create_new(true).open(&temp).await.map_err(io_at(&temp))?;
        Ok(Upload {
            store: self.clone(),
            file: Some(file),
            temp,
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::new(),
        })
    }

    /// Re-hashes a stored blob: its size when it still matches its name.
    pub fn check(&self, sha256: &str) -> Result<u64, BlobError> {
        let path = self.path(sha256)?;
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(BlobError::Missing(sha256.to_owned())),
            Err(error) => return Err(BlobError::Io { path, source: error }),
        };
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buffer).map_err(io_at(&path))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(BlobError::Corrupt { sha256: sha256.to_owned(), actual });
        }
        Ok(size)
    }

    /// Every stored blob's hash, in order.
    pub fn list(&self) -> Result<Vec<String>, BlobError> {
        let content = self.content_dir();
        let mut hashes = Vec::new();
        let Ok(shards) = fs::read_dir(&content) else { return Ok(hashes) };
        for shard in shards {
            let shard = shard.map_err(io_at(&content))?.path();
            for blob in fs::read_dir(&shard).map_err(io_at(&shard))? {
                let name = blob.map_err(io_at(&shard))?.file_name();
                hashes.push(name.to_string_lossy().into_owned());
            }
        }
        hashes.sort();
        Ok(hashes)
    }
}

/// An upload in progress. Dropping it unfinished removes its temporary file.
#[derive(Debug)]
pub struct Upload {
    store: BlobStore,
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
}

impl Upload {
    /// Appends a chunk; refuses (and the upload should be dropped) once the limit is passed.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        let Some(file) = self.file.as_mut() else { return Err(BlobError::Missing("upload".into())) };
        file.write_all(chunk).await.map_err(io_at(&self.temp))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of what has been written so far.
    pub fn digest(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// The first bytes written, for sniffing.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Makes the blob durable under its hash: fsync, read-only, rename, directory fsync. When
    /// identical content is already stored, the new copy is discarded.
    pub async fn finish(mut self) -> Result<StoredBlob, BlobError> {
        let Some(mut file) = self.file.take() else { return Err(BlobError::Missing("upload".into())) };
        file.flush().await.map_err(io_at(&self.temp))?;
        file.sync_all().await.map_err(io_at(&self.temp))?;
        drop(file);
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let target = self.store.path(&sha256)?;
        let temp = self.temp.clone();
        let head = std::mem::take(&mut self.head);
        let size = self.size;
        let existed = tokio::task::spawn_blocking(move || place(&temp, &target))
            .await
            .map_err(|e| BlobError::Io { path: self.temp.clone(), source: io::Error::other(e.to_string()) })??;
        Ok(StoredBlob { sha256, size, head, existed })
    }
}

/// Moves a finished upload to its content path, or discards it when that content is stored.
fn place(temp: &Path, target: &Path) -> Result<bool, BlobError> {
    if target.exists() {
        fs::remove_file(temp).map_err(io_at(temp))?;
        return Ok(true);
    }
    let Some(shard) = target.parent() else { return Err(BlobError::BadName(target.display().to_string())) };
    fs::DirBuilder::new().recursive(true).mode(0o700).create(shard).map_err(io_at(shard))?;
    fs::set_permissions(temp, fs::Permissions::from_mode(0o400)).map_err(io_at(temp))?;
    fs::rename(temp, target).map_err(io_at(target))?;
    // The rename is durable only once both directories are.
    for dir in [shard, shard.parent().unwrap_or(shard)] {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))?;
    }
    Ok(false)
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() || self.temp.exists() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
