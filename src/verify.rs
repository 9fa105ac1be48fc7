//! `ged verify`: proves the archive is whole. Re-hashes every stored object, checks that every
//! document points at an object of the right size, and follows the audit chain.

use std::fmt;

use futures::stream::StreamExt;

use crate::archive::Archive;
use crate::audit::{ChainPosition, check_chain};
use crate::content::ObjectCheck;
use crate::identifiers::Sha256Hex;

/// Objects re-hashed at once: enough to keep two cores and the disk busy.
const CONCURRENT_CHECKS: usize = 4;
const PAGE: u32 = 1000;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    CorruptedObject {
        key: String,
        actual_sha256: String,
    },
    MisnamedObject {
        key: String,
    },
    UnreadableObject {
        key: String,
        error: String,
    },
    MissingContent {
        document_id: String,
        sha256: String,
    },
    WrongSize {
        document_id: String,
        sha256: String,
        expected: u64,
        actual: u64,
    },
    BrokenAuditChain {
        seq: i64,
        reason: String,
    },
    DisagreesWithAudit {
        document_id: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CorruptedObject { key, actual_sha256 } => {
                write!(
                    f,
                    "corrupted object {key}: its content hashes to {actual_sha256}"
                )
            }
            Self::MisnamedObject { key } => write!(f, "object {key} is not named by a SHA-256"),
            Self::UnreadableObject { key, error } => {
                write!(f, "object {key} cannot be read: {error}")
            }
            Self::MissingContent {
                document_id,
                sha256,
            } => {
                write!(f, "document {document_id}: its content {sha256} is missing")
            }
            Self::WrongSize {
                document_id,
                sha256,
                expected,
                actual,
            } => write!(
                f,
                "document {document_id}: content {sha256} has {actual} bytes, the catalog says {expected}"
            ),
            Self::BrokenAuditChain { seq, reason } => {
                write!(f, "audit log entry {seq} breaks the chain: it {reason}")
            }
            Self::DisagreesWithAudit { document_id } => write!(
                f,
                "document {document_id} disagrees with the audit entry of its archiving \
                 (the entry is missing, or the document's content or sequence was changed)"
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub objects_checked: u64,
    pub bytes_checked: u64,
    pub documents_checked: u64,
    pub audit_entries_checked: u64,
    pub problems: Vec<Problem>,
    /// Keys of damaged objects that nothing names: uploads cut by a crash before they were
    /// acknowledged (the local store links an upload under its key before flushing it). Not
    /// a problem: the next upload of the content replaces the object.
    pub interrupted_uploads: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "objects:   {} re-hashed ({} bytes)",
            self.objects_checked, self.bytes_checked
        )?;
        writeln!(
            f,
            "documents: {} checked against the content store",
            self.documents_checked
        )?;
        writeln!(
            f,
            "audit log: {} entries, chain followed",
            self.audit_entries_checked
        )?;
        for key in &self.interrupted_uploads {
            writeln!(
                f,
                "note: object {key} is damaged but named by no document or upload: an upload \
                 cut before it was acknowledged; the next upload of that content replaces it"
            )?;
        }
        for problem in &self.problems {
            writeln!(f, "PROBLEM: {problem}")?;
        }
        match self.problems.len() {
            0 => write!(f, "result: the archive is intact"),
            n => write!(f, "result: {n} problem(s) found"),
        }
    }
}

pub async fn verify(archive: &Archive) -> anyhow::Result<Report> {
    let mut report = Report::default();
    check_objects(archive, &mut report).await?;
    check_documents(archive, &mut report).await?;
    check_audit_chain(archive, &mut report).await?;
    Ok(report)
}

async fn check_objects(archive: &Archive, report: &mut Report) -> anyhow::Result<()> {
    let content = &archive.content;
    let mut checks = content
        .list()
        .map(|meta| async move {
            let meta = meta?;
            let check = content.check(&meta.location).await;
            Ok::<_, object_store::Error>((meta.location.to_string(), check))
        })
        .buffer_unordered(CONCURRENT_CHECKS);
    while let Some(result) = checks.next().await {
        let (key, check) = result?;
        report.objects_checked += 1;
        match check {
            ObjectCheck::Intact { size } => report.bytes_checked += size,
            ObjectCheck::Corrupted { actual, size } => {
                report.bytes_checked += size;
                let named = key.rsplit('/').next().unwrap_or_default();
                if !archive.catalog.content_recorded(named).await? {
                    tracing::warn!(%key, "damaged object named by nothing: an interrupted upload");
                    report.interrupted_uploads.push(key);
                    continue;
                }
                tracing::error!(%key, "stored object is corrupted");
                report.problems.push(Problem::CorruptedObject {
                    key,
                    actual_sha256: actual.to_string(),
                });
            }
            ObjectCheck::Misnamed => report.problems.push(Problem::MisnamedObject { key }),
            ObjectCheck::Unreadable(error) => report
                .problems
                .push(Problem::UnreadableObject { key, error }),
        }
    }
    Ok(())
}

async fn check_documents(archive: &Archive, report: &mut Report) -> anyhow::Result<()> {
    let mut after: Option<String> = None;
    loop {
        let page = archive
            .catalog
            .content_references(after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for reference in page {
            report.documents_checked += 1;
            let Ok(sha256) = Sha256Hex::parse(&reference.sha256) else {
                report.problems.push(Problem::MissingContent {
                    document_id: reference.id,
                    sha256: reference.sha256,
                });
                continue;
            };
            match archive.content.stored_size(&sha256).await? {
                None => report.problems.push(Problem::MissingContent {
                    document_id: reference.id,
                    sha256: reference.sha256,
                }),
                Some(actual) if actual != reference.size as u64 => {
                    report.problems.push(Problem::WrongSize {
                        document_id: reference.id,
                        sha256: reference.sha256,
                        expected: reference.size as u64,
                        actual,
                    })
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

async fn check_audit_chain(archive: &Archive, report: &mut Report) -> anyhow::Result<()> {
    let mut position = ChainPosition::start();
    let mut after_seq = 0;
    loop {
        let page = archive.catalog.audit_entries(after_seq, PAGE).await?;
        let Some(last) = page.last() else { break };
        after_seq = last.seq;
        report.audit_entries_checked += page.len() as u64;
        match check_chain(position.clone(), &page) {
            Ok(next) => position = next,
            Err(broken) => {
                report.problems.push(Problem::BrokenAuditChain {
                    seq: broken.seq,
                    reason: broken.reason,
                });
                // Past the first broken link every later one fails too: name the first only.
                break;
            }
        }
    }
    // A chain cut at its end still links up, and a document row edited behind the
    // application's back (pointed at other content) still finds its object: each document must
    // agree with the audit entry of its archiving.
    for document_id in archive
        .catalog
        .documents_disagreeing_with_audit(PAGE)
        .await?
    {
        report
            .problems
            .push(Problem::DisagreesWithAudit { document_id });
    }
    Ok(())
}
