//! The content store: every file kept once, named by its SHA-256, in any `object_store` backend.
//!
//! Key layout: `sha256/ab/cd/abcd…` (the first two bytes of the hash as folders, so no folder of
//! the local store grows past 65,536 entries). Writes are create-if-absent, so the same content
//! uploaded twice is stored once; reads are verified against the hash as they stream. A write
//! to the local backend is durable before it returns: flushed with the concurrent ones on
//! Linux (`local`), fsynced with its folder otherwise (see docs/archive-core.md, "Content store").

pub mod http;
#[cfg(target_os = "linux")]
mod local;
mod recent;
mod staging;
mod verified;

use std::ops::{DerefMut, Range};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::ClientConfigKey;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use recent::RecentlyStored;
pub use recent::StoredContent;
use staging::StagedBytes;
pub use staging::{StagedContent, StagingError, StagingWriter};

use crate::identifiers::Sha256Hex;

/// The prefix under which all content lives.
const CONTENT_PREFIX: &str = "sha256";
/// Part size when a large staged file is copied into the store.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// The longest an S3 response may take: 256 MiB read at 12 KB/s.
const S3_RESPONSE_TIMEOUT: &str = "6h";

/// `s3://bucket[/prefix]` as bucket and prefix (without surrounding slashes). Bucket names
/// are checked here, so that a mistyped URL (or one carrying credentials) fails at start with
/// its reason, not at the first upload.
fn parse_s3_url(url: &str) -> Result<(&str, &str), ContentError> {
    let invalid =
        |why: &str| ContentError::Config(format!("--store must be s3://bucket[/prefix]: {why}"));
    let location = url
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("it does not start with s3://"))?;
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid_bucket {
        return Err(invalid(
            "a bucket name is 3 to 63 lower-case letters, digits, dots and hyphens",
        ));
    }
    Ok((bucket, prefix.trim_matches('/')))
}

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("object store error")]
    Store(#[from] object_store::Error),
    #[error("content store i/o error")]
    Io(#[from] std::io::Error),
    #[error("object {0} is missing from the content store")]
    Missing(Sha256Hex),
    #[error("content store configuration: {0}")]
    Config(String),
    #[error("the staged upload of {0} changed before it was stored")]
    StagingChanged(Sha256Hex),
}

/// Uploads stored, one after the other or several at once, and made durable together: on the
/// local disk under Linux each is written as it arrives and one flush covers them all, so a
/// request carrying
/// many small files pays one flush instead of one per file (see docs/batches.md,
/// "Several files per request"). Elsewhere each is durable once [`PutGroup::put`] returns.
/// Nothing put may be acknowledged before [`PutGroup::finish`] returns.
pub struct PutGroup<'a> {
    store: &'a ContentStore,
    /// Shared by the group's writes, which may run concurrently.
    written: std::sync::Mutex<GroupWrites>,
}

#[derive(Default)]
struct GroupWrites {
    /// Objects written and not yet flushed, removed if the flush fails.
    created: Vec<(PathBuf, u64)>,
    /// Whether a flush must run before what was put is durable.
    unflushed: bool,
    stored: Vec<(Sha256Hex, StoredContent)>,
}

impl PutGroup<'_> {
    /// Stores staged content under its hash unless it is already there, intact. Several may
    /// run at once.
    pub async fn put(&self, staged: StagedContent) -> Result<PutOutcome, ContentError> {
        let sha256 = staged.sha256.clone();
        let stored = StoredContent {
            size: staged.size,
            sniffed: staged.sniffed,
        };
        #[cfg(target_os = "linux")]
        let outcome = if self.store.group_sync.is_some()
            && let StagedBytes::Memory(bytes) = &staged.bytes
        {
            let location = ContentStore::key(&sha256);
            let (outcome, created) = self
                .store
                .write_local(&location, bytes.clone(), staged.size)
                .await?;
            let mut written = self.writes();
            written.created.extend(created);
            written.unflushed = true;
            outcome
        } else {
            self.store.write_staged(staged).await?
        };
        #[cfg(not(target_os = "linux"))]
        let outcome = self.store.write_staged(staged).await?;
        self.writes().stored.push((sha256, stored));
        Ok(outcome)
    }

    fn writes(&self) -> std::sync::MutexGuard<'_, GroupWrites> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes everything put durable, then runs `then` (not at all if the flush fails). On the
    /// local disk `then` runs inside the flush step, which every write of the moment waits
    /// for: it must not itself wait for a write to this store (a catalog commit qualifies:
    /// nothing holds the catalog's write lock while it writes content).
    pub async fn finish(self, then: Then) -> Result<(), ContentError> {
        let mut then = Some(then);
        let written = std::mem::take(self.writes().deref_mut());
        // Not refused up front after another writer's failed flush: the flush step fails
        // anyway, and removes what these writes created.
        #[cfg(target_os = "linux")]
        if written.unflushed
            && let Some(group) = &self.store.group_sync
        {
            group.wait(written.created, then.take()).await?;
        }
        if let Some(then) = then {
            then.await;
        }
        for (sha256, stored) in written.stored {
            self.store.recent.remember(&sha256, stored);
        }
        Ok(())
    }
}

impl Drop for PutGroup<'_> {
    /// A request that ends before [`PutGroup::finish`] (its client gone, its body cut or over
    /// its limit, a write failing) leaves objects written and not flushed: they go to a flush all the same, so that
    /// if it fails they are removed instead of passing for intact after a restart.
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        let created = std::mem::take(&mut self.writes().created);
        if !created.is_empty()
            && let Some(group) = self.store.group_sync.clone()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = group.wait(created, None).await;
            });
        }
    }
}

/// What follows a write once its content is durable (see [`PutGroup::finish`]).
pub type Then = futures::future::BoxFuture<'static, ()>;

/// What a write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The content was new and is now stored durably.
    Created,
    /// The same content was already stored; nothing was rewritten.
    AlreadyPresent,
}

/// The result of re-hashing one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectCheck {
    Intact {
        size: u64,
    },
    /// The object's bytes hash to something other than its name.
    Corrupted {
        actual: Sha256Hex,
        size: u64,
    },
    /// A key under `sha256/` that does not follow the layout.
    Misnamed,
    Unreadable(String),
}

#[derive(Clone)]
pub struct ContentStore {
    store: Arc<dyn ObjectStore>,
    staging_directory: PathBuf,
    /// The root folder when the store is the local disk, whose durability we manage.
    local_root: Option<PathBuf>,
    /// On Linux, the local disk's writes are flushed in groups (see `local`).
    #[cfg(target_os = "linux")]
    group_sync: Option<local::GroupSync>,
    /// What this process stored lately, shared by the clones of the store.
    recent: Arc<RecentlyStored>,
}

impl ContentStore {
    /// The embedded default: a folder on the local disk, every write durable before it returns.
    pub fn open_local(root: &FsPath, staging_directory: &FsPath) -> Result<Self, ContentError> {
        std::fs::create_dir_all(root)?;
        std::fs::create_dir_all(staging_directory)?;
        let store = LocalFileSystem::new_with_prefix(root)?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Self {
            local_root: Some(std::fs::canonicalize(root)?),
            #[cfg(target_os = "linux")]
            group_sync: Some(local::GroupSync::open(root)?),
            ..Self::new(Arc::new(store), staging_directory)
        })
    }

    /// Whether the store answers: the local root is a folder that is there, a remote store
    /// lists its top level.
    pub async fn check_reachable(&self) -> Result<(), ContentError> {
        match &self.local_root {
            Some(root) => {
                let metadata = tokio::fs::metadata(root).await?;
                if metadata.is_dir() {
                    Ok(())
                } else {
                    Err(std::io::Error::other("the content root is not a folder").into())
                }
            }
            None => {
                self.store.list_with_delimiter(None).await?;
                Ok(())
            }
        }
    }

    /// Any object store; `staging_directory` is a local folder for uploads too large for memory.
    /// The content on an S3-compatible store, `s3://bucket/prefix`, configured by the usual
    /// AWS variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` for a store on plain HTTP,
    /// `AWS_CONDITIONAL_PUT=disabled` for one that refuses `If-None-Match`…).
    pub fn open_s3(url: &str, staging_directory: &FsPath) -> Result<Self, ContentError> {
        let mut builder = AmazonS3Builder::from_env();
        // Every upload carries its SHA-256, so the store refuses bytes damaged on the way;
        // `AWS_CHECKSUM_ALGORITHM` may choose otherwise for a store that refuses it.
        if std::env::var_os("AWS_CHECKSUM_ALGORITHM").is_none() {
            builder = builder.with_checksum_algorithm(Checksum::SHA256);
        }
        Self::open_s3_with(builder, url, staging_directory)
    }

    /// [`ContentStore::open_s3`] with the client configured by the caller.
    pub fn open_s3_with(
        builder: AmazonS3Builder,
        url: &str,
        staging_directory: &FsPath,
    ) -> Result<Self, ContentError> {
        let (bucket, prefix) = parse_s3_url(url)?;
        let s3 = builder
            .with_bucket_name(bucket)
            // A download runs at the reader's pace: the client's 30 s deadline on a whole
            // response would cut a large document sent to a slow reader.
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                S3_RESPONSE_TIMEOUT,
            )
            .build()?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        std::fs::create_dir_all(staging_directory)?;
        Ok(Self::new(store, staging_directory))
    }

    /// Any object store (tests, other backends).
    pub fn new(store: Arc<dyn ObjectStore>, staging_directory: &FsPath) -> Self {
        Self {
            store,
            staging_directory: staging_directory.to_path_buf(),
            local_root: None,
            #[cfg(target_os = "linux")]
            group_sync: None,
            recent: Arc::default(),
        }
    }

    /// Removes staged uploads left behind by a process that was killed mid-upload.
    /// The object store underneath, for benchmarks that measure it bare.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn clean_staging(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.staging_directory)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Uploads cut off, and the scratch folders of text extractions cut short.
            if name.starts_with("upload-") {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            } else if name.starts_with("extract-") {
                std::fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Starts receiving an upload of at most `limit` bytes.
    pub fn staging_writer(&self, limit: u64) -> StagingWriter {
        StagingWriter::new(&self.staging_directory, limit)
    }

    /// The key of a content hash: `sha256/ab/cd/abcd…`.
    pub fn key(sha256: &Sha256Hex) -> Path {
        let hex = sha256.as_str();
        Path::from(format!(
            "{CONTENT_PREFIX}/{}/{}/{hex}",
            &hex[0..2],
            &hex[2..4]
        ))
    }

    /// Stores staged content under its hash unless it is already there, intact. Returns once
    /// the content is durable.
    pub async fn put(&self, staged: StagedContent) -> Result<PutOutcome, ContentError> {
        let sha256 = staged.sha256.clone();
        let stored = StoredContent {
            size: staged.size,
            sniffed: staged.sniffed,
        };
        let outcome = self.write_staged(staged).await?;
        self.recent.remember(&sha256, stored);
        Ok(outcome)
    }

    /// Several uploads made durable together (see [`PutGroup`]).
    pub fn put_group(&self) -> PutGroup<'_> {
        PutGroup {
            store: self,
            written: Default::default(),
        }
    }

    /// The size and type of content this process stored lately, if it remembers it; the
    /// store is not asked.
    pub fn recently_stored(&self, sha256: &Sha256Hex) -> Option<StoredContent> {
        self.recent.get(sha256)
    }

    /// Stores staged content and makes it durable.
    async fn write_staged(&self, staged: StagedContent) -> Result<PutOutcome, ContentError> {
        let location = Self::key(&staged.sha256);
        // On the local disk the write itself finds an object already there, in the same
        // blocking call: no lookup of its own first.
        #[cfg(target_os = "linux")]
        if self.group_sync.is_some()
            && let StagedBytes::Memory(bytes) = &staged.bytes
        {
            return self.put_local(&location, bytes.clone(), staged.size).await;
        }
        let mut mode = PutMode::Create;
        match self.store.head(&location).await {
            Ok(_) if self.holds_intact(&location, staged.size).await => {
                self.make_durable(&location).await?;
                return Ok(PutOutcome::AlreadyPresent);
            }
            Ok(_) => {
                // A damaged object (bit rot, a cut write): the fresh upload repairs it.
                tracing::error!(sha256 = %staged.sha256, "stored content is damaged: rewriting it from the new upload");
                mode = PutMode::Overwrite;
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        match staged.bytes {
            StagedBytes::Memory(bytes) => {
                let payload = PutPayload::from(bytes);
                match self
                    .store
                    .put_opts(&location, payload.clone(), PutOptions::from(mode.clone()))
                    .await
                {
                    Ok(_) => Ok(PutOutcome::Created),
                    // Conditional writes turned off (AWS_CONDITIONAL_PUT=disabled, for a store
                    // that refuses them): the same bytes under the same name, so writing them
                    // again is harmless.
                    Err(object_store::Error::NotImplemented { .. })
                        if matches!(mode, PutMode::Create) =>
                    {
                        let options = PutOptions::from(PutMode::Overwrite);
                        self.store.put_opts(&location, payload, options).await?;
                        Ok(PutOutcome::Created)
                    }
                    // Another upload of the same content won the race: a dedup hit if what it
                    // wrote is sound, otherwise ours replaces it.
                    Err(object_store::Error::AlreadyExists { .. }) => {
                        if self.holds_intact(&location, staged.size).await {
                            self.make_durable(&location).await?;
                            return Ok(PutOutcome::AlreadyPresent);
                        }
                        let options = PutOptions::from(PutMode::Overwrite);
                        self.store.put_opts(&location, payload, options).await?;
                        Ok(PutOutcome::Created)
                    }
                    Err(error) => Err(error.into()),
                }
            }
            // Multipart uploads cannot be create-only; with content addressing a concurrent
            // second write of the same key writes the same bytes, which is harmless.
            StagedBytes::File(temporary) => {
                self.copy_staged_file(&location, temporary.path(), &staged.sha256)
                    .await?;
                Ok(PutOutcome::Created)
            }
        }
    }

    /// [`ContentStore::put`] on the local disk: written, then flushed with the other writes of
    /// the moment.
    #[cfg(target_os = "linux")]
    async fn put_local(
        &self,
        location: &Path,
        bytes: Bytes,
        size: u64,
    ) -> Result<PutOutcome, ContentError> {
        let (outcome, created) = self.write_local(location, bytes, size).await?;
        let group = self.group_sync.as_ref().expect("a local write has a group");
        group.wait(created.into_iter().collect(), None).await?;
        Ok(outcome)
    }

    /// Writes content to the local disk without flushing it: the caller waits for a flush
    /// before it acknowledges the write. Returns the object it created, if any, with the
    /// flushes started before it was in place (see [`local::GroupSync::wait`]).
    #[cfg(target_os = "linux")]
    async fn write_local(
        &self,
        location: &Path,
        bytes: Bytes,
        size: u64,
    ) -> Result<(PutOutcome, Option<(PathBuf, u64)>), ContentError> {
        let (Some(root), Some(group)) = (&self.local_root, &self.group_sync) else {
            unreachable!("a group-synced store is a local one");
        };
        group.check_usable()?;
        let path = root.join(location.as_ref());
        let write = |replace: bool| {
            let (path, bytes, group) = (path.clone(), bytes.clone(), group.clone());
            tokio::task::spawn_blocking(move || group.write(&path, &bytes, replace))
        };
        let (written, flushes_before) = write(false).await.map_err(std::io::Error::other)??;
        Ok(match written {
            local::Written::Created => (PutOutcome::Created, Some((path, flushes_before))),
            // Stored before, or by a concurrent upload of the same content: a dedup hit if it
            // is sound (made durable by the caller's flush, as its writer may not have reached
            // its own), otherwise ours replaces it.
            local::Written::AlreadyThere if self.holds_intact(location, size).await => {
                (PutOutcome::AlreadyPresent, None)
            }
            local::Written::AlreadyThere => {
                // A damaged object (bit rot, a cut write): the fresh upload repairs it.
                tracing::error!(%location, "stored content is damaged: rewriting it from the new upload");
                let (_, flushes_before) = write(true).await.map_err(std::io::Error::other)??;
                (PutOutcome::Created, Some((path, flushes_before)))
            }
        })
    }

    /// Copies a spooled upload into the store in parts, hashing them again on the way: if the
    /// staged file no longer holds the bytes that were hashed on arrival, nothing is published.
    async fn copy_staged_file(
        &self,
        location: &Path,
        staged_path: &FsPath,
        expected: &Sha256Hex,
    ) -> Result<(), ContentError> {
        let mut file = tokio::fs::File::open(staged_path).await?;
        let mut upload = self.store.put_multipart(location).await?;
        let copied: Result<(), ContentError> = async {
            let mut hasher = Sha256::new();
            loop {
                let mut part = Vec::with_capacity(PART_SIZE);
                (&mut file)
                    .take(PART_SIZE as u64)
                    .read_to_end(&mut part)
                    .await?;
                if part.is_empty() {
                    break;
                }
                hasher.update(&part);
                upload.put_part(PutPayload::from(Bytes::from(part))).await?;
            }
            let actual = Sha256Hex::from_digest(&hasher.finalize());
            if actual != *expected {
                return Err(ContentError::StagingChanged(expected.clone()));
            }
            upload.complete().await?;
            Ok(())
        }
        .await;
        if copied.is_err() {
            let _ = upload.abort().await;
        }
        copied
    }

    /// Whether the stored object has the expected size and hashes to its name.
    async fn holds_intact(&self, location: &Path, expected_size: u64) -> bool {
        matches!(self.check(location).await, ObjectCheck::Intact { size } if size == expected_size)
    }

    /// On the local disk, makes an object found already present durable (a flush on Linux, an
    /// fsync of it and the folders above it elsewhere): the writer that created it may not have
    /// reached its own flush yet (or crashed first), and a dedup hit must be as durable as a
    /// fresh write before the caller acknowledges it.
    async fn make_durable(&self, location: &Path) -> Result<(), ContentError> {
        #[cfg(target_os = "linux")]
        if let Some(group) = &self.group_sync {
            group.check_usable()?;
            group.wait(Vec::new(), None).await?;
            return Ok(());
        }
        let Some(root) = self.local_root.clone() else {
            return Ok(());
        };
        let path = root.join(location.as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            let mut folder = path.parent();
            while let Some(current) = folder {
                std::fs::File::open(current)?.sync_all()?;
                if current == root {
                    break;
                }
                folder = current.parent();
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// The stored size of a content hash, or `None` when absent.
    pub async fn stored_size(&self, sha256: &Sha256Hex) -> Result<Option<u64>, ContentError> {
        match self.store.head(&Self::key(sha256)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The first `length` bytes of stored content (fewer when it is shorter), unverified: for
    /// media-type detection only.
    pub async fn first_bytes(
        &self,
        sha256: &Sha256Hex,
        size: u64,
        length: usize,
    ) -> Result<Bytes, ContentError> {
        let end = size.min(length as u64);
        match self.store.get_range(&Self::key(sha256), 0..end).await {
            Ok(bytes) => Ok(bytes),
            Err(object_store::Error::NotFound { .. }) => Err(ContentError::Missing(sha256.clone())),
            Err(error) => Err(error.into()),
        }
    }

    /// Streams `range` of the content, verified against its hash and expected size.
    pub async fn read(
        &self,
        sha256: &Sha256Hex,
        size: u64,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>, ContentError> {
        let result = match self.store.get(&Self::key(sha256)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                tracing::error!(%sha256, "stored content is missing");
                return Err(ContentError::Missing(sha256.clone()));
            }
            Err(error) => return Err(error.into()),
        };
        Ok(verified::verifying_stream(
            result.into_stream(),
            sha256.clone(),
            size,
            range,
        ))
    }

    /// Every stored object (for verification).
    pub fn list(&self) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.store.list(Some(&Path::from(CONTENT_PREFIX)))
    }

    /// Re-hashes one stored object and compares the hash with its name.
    pub async fn check(&self, location: &Path) -> ObjectCheck {
        let Some(expected) = location
            .filename()
            .and_then(|name| Sha256Hex::parse(name).ok())
            .filter(|sha256| Self::key(sha256) == *location)
        else {
            return ObjectCheck::Misnamed;
        };
        let mut stream = match self.store.get(location).await {
            Ok(result) => result.into_stream(),
            Err(error) => return ObjectCheck::Unreadable(error.to_string()),
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    size += chunk.len() as u64;
                    hasher.update(&chunk);
                }
                Err(error) => return ObjectCheck::Unreadable(error.to_string()),
            }
        }
        let actual = Sha256Hex::from_digest(&hasher.finalize());
        if actual == expected {
            ObjectCheck::Intact { size }
        } else {
            ObjectCheck::Corrupted { actual, size }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ContentStore, StagedContent, parse_s3_url};

    #[tokio::test]
    async fn what_an_upload_found_is_remembered_once_stored_and_shared_by_clones() {
        let folder = tempfile::tempdir().unwrap();
        let store =
            ContentStore::open_local(&folder.path().join("objects"), &folder.path().join("tmp"))
                .unwrap();
        let bytes = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n".to_vec();
        let staged = StagedContent::from_bytes(bytes.clone());
        let sha256 = staged.sha256.clone();
        assert_eq!(store.recently_stored(&sha256), None);
        store.put(staged).await.unwrap();
        let remembered = store
            .recently_stored(&sha256)
            .expect("remembered once stored");
        assert_eq!(remembered.size, bytes.len() as u64);
        assert_eq!(
            remembered.sniffed.detect(Some("lettre.pdf"), None),
            Ok("application/pdf")
        );
        assert!(remembered.sniffed.detect(Some("scan.png"), None).is_err());
        assert_eq!(
            store.stored_size(&sha256).await.unwrap(),
            Some(remembered.size)
        );
        assert_eq!(store.clone().recently_stored(&sha256), Some(remembered));
    }

    #[test]
    fn s3_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_s3_url("s3://archive").unwrap(), ("archive", ""));
        assert_eq!(parse_s3_url("s3://archive/").unwrap(), ("archive", ""));
        assert_eq!(
            parse_s3_url("s3://archive/ged/prod/").unwrap(),
            ("archive", "ged/prod")
        );
        for bad in [
            "archive",
            "s3://",
            "s3://Archive",
            "s3://key:secret@archive",
            "s3://ab",
        ] {
            assert!(parse_s3_url(bad).is_err(), "{bad}");
        }
    }
}
