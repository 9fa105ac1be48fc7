//! Staging an upload: the bytes are hashed and counted as they arrive, kept in memory while
//! small and spilled to a temporary file past a threshold, so a 1 GB upload never sits whole in
//! memory. Nothing here is durable: a staged upload is dropped (and its file removed) unless
//! the content store publishes it.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::documents::media_type::{SNIFF_LENGTH, Sniffed};
use crate::identifiers::Sha256Hex;

/// Uploads up to this size stay in memory; larger ones go to a temporary file.
pub const MEMORY_THRESHOLD: usize = 8 * 1024 * 1024;
/// The most memory set aside for an upload before its bytes arrive.
/// (A scan is typically 100–500 KB.)
const UP_FRONT_LIMIT: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("content is larger than the {limit}-byte upload limit")]
    TooLarge { limit: u64 },
    #[error("cannot write the staging file")]
    Io(#[from] std::io::Error),
}

/// Receives one upload's bytes.
pub struct StagingWriter {
    directory: PathBuf,
    limit: u64,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    memory: BytesMut,
    spill: Option<(tokio::fs::File, NamedTempFile)>,
}

/// An upload received whole: its hash, size, first bytes and the bytes themselves.
pub struct StagedContent {
    pub sha256: Sha256Hex,
    pub size: u64,
    /// The first bytes, for media-type detection.
    /// What its first bytes say of its type, taken once as it arrived.
    pub sniffed: Sniffed,
    pub(super) bytes: StagedBytes,
}

pub(super) enum StagedBytes {
    Memory(Bytes),
    /// The temporary file is removed when this is dropped.
    File(NamedTempFile),
}

impl StagedContent {
    /// Content already in memory (an email's attachment), hashed here.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let sha256 = Sha256Hex::from_digest(&Sha256::digest(&bytes));
        let sniffed = Sniffed::of(&bytes[..bytes.len().min(SNIFF_LENGTH)]);
        Self {
            sha256,
            size: bytes.len() as u64,
            sniffed,
            bytes: StagedBytes::Memory(Bytes::from(bytes)),
        }
    }

    /// The first `limit` bytes of the content (all of it when shorter), read back from memory
    /// or from its staging file.
    pub async fn read_prefix(&self, limit: u64) -> std::io::Result<Bytes> {
        match &self.bytes {
            StagedBytes::Memory(bytes) => Ok(bytes.slice(..bytes.len().min(limit as usize))),
            StagedBytes::File(file) => {
                let mut prefix = Vec::with_capacity(self.size.min(limit) as usize);
                tokio::fs::File::open(file.path())
                    .await?
                    .take(limit)
                    .read_to_end(&mut prefix)
                    .await?;
                Ok(Bytes::from(prefix))
            }
        }
    }
}

impl StagingWriter {
    /// `directory` holds spilled uploads; it must be on the same machine as the process.
    pub fn new(directory: &Path, limit: u64) -> Self {
        Self {
            directory: directory.to_path_buf(),
            limit,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            memory: BytesMut::new(),
            spill: None,
        }
    }

    /// Makes room for an upload that announced its length (`Content-Length`), so that a scan
    /// of a few hundred kilobytes is gathered without copying it as it grows. Nothing is
    /// trusted: the bytes received are still counted and limited, and at most
    /// [`UP_FRONT_LIMIT`] is set aside before they arrive, so that requests announcing large
    /// bodies and sending nothing hold little memory.
    pub fn expect(&mut self, length: u64) {
        if length <= self.limit {
            self.memory
                .reserve(length.min(UP_FRONT_LIMIT as u64) as usize);
        }
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StagingError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(StagingError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        if self.head.len() < SNIFF_LENGTH {
            let wanted = (SNIFF_LENGTH - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..wanted]);
        }
        if self.spill.is_none() && self.memory.len() + chunk.len() > MEMORY_THRESHOLD {
            let temporary = tempfile::Builder::new()
                .prefix("upload-")
                .tempfile_in(&self.directory)?;
            let mut file = tokio::fs::File::from_std(temporary.reopen()?);
            file.write_all(&self.memory).await?;
            self.memory = BytesMut::new();
            self.spill = Some((file, temporary));
        }
        match &mut self.spill {
            Some((file, _)) => file.write_all(chunk).await?,
            None => self.memory.extend_from_slice(chunk),
        }
        Ok(())
    }

    pub async fn finish(self) -> Result<StagedContent, StagingError> {
        let bytes = match self.spill {
            Some((mut file, temporary)) => {
                file.flush().await?;
                StagedBytes::File(temporary)
            }
            None => StagedBytes::Memory(self.memory.freeze()),
        };
        Ok(StagedContent {
            sha256: Sha256Hex::from_digest(&self.hasher.finalize()),
            size: self.size,
            sniffed: Sniffed::of(&self.head),
            bytes,
        })
    }
}
