//! The right-of-access export (RGPD article 15): a zip of every document concerning a person
//! that the caller sees, with an index of their metadata and dossiers in JSON and CSV.
//!
//! The zip is written as it is sent, on a blocking thread feeding a bounded channel: memory
//! stays flat whatever the number of documents. Content is verified against its hash as it is
//! read; if anything fails, the response ends with an error before the zip's central directory,
//! so a client never holds a complete-looking archive with a document missing or corrupted.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use zip::CompressionMethod;
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use super::Party;
use crate::content::ContentStore;
use crate::dates::now_timestamp;
use crate::documents::model::Document;
use crate::dossiers::Dossier;
use crate::identifiers::Sha256Hex;

/// Bytes gathered before a piece is handed to the response.
const PIECE: usize = 64 * 1024;
/// Pieces in flight between the zip writer and the response.
const PIECES_IN_FLIGHT: usize = 4;

/// The zip's bytes as a response body stream.
pub fn stream_zip(
    content: ContentStore,
    party: Party,
    dossiers: Vec<Dossier>,
    documents: Vec<Document>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = mpsc::channel(PIECES_IN_FLIGHT);
    let runtime = Handle::current();
    tokio::task::spawn_blocking(move || {
        let poisoned = Arc::new(AtomicBool::new(false));
        let writer = ChannelWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(PIECE),
            poisoned: poisoned.clone(),
        };
        let mut zip = ZipWriter::new_stream(writer);
        let written = write_entries(&mut zip, &runtime, &content, &party, &dossiers, &documents);
        let result = match written {
            Ok(()) => zip
                .finish()
                .map_err(anyhow::Error::from)
                .and_then(|mut writer: StreamWriter<ChannelWriter>| Ok(writer.flush()?)),
            Err(error) => {
                // Dropping the zip writer finalises the archive (central directory and all):
                // poisoned first, none of that reaches the client.
                poisoned.store(true, Ordering::SeqCst);
                drop(zip);
                Err(error)
            }
        };
        if let Err(error) = result {
            poisoned.store(true, Ordering::SeqCst);
            tracing::error!(
                error = format!("{error:#}"),
                "right-of-access export failed"
            );
            let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    })
    .boxed()
}

/// Hands the zip's bytes to the response in pieces, waiting while the client reads.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
    poisoned: Arc<AtomicBool>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("the export failed"));
        }
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(PIECE),
        ));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("the export failed"));
        }
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PIECE {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// One document as the index lists it: where it is in the zip, and its metadata.
#[derive(Serialize)]
struct IndexedDocument<'a> {
    file: String,
    #[serde(flatten)]
    document: &'a Document,
}

#[derive(Serialize)]
struct ExportIndex<'a> {
    exported_at: String,
    party: &'a Party,
    dossiers: &'a [Dossier],
    documents: Vec<IndexedDocument<'a>>,
}

fn write_entries(
    zip: &mut ZipWriter<StreamWriter<ChannelWriter>>,
    runtime: &Handle,
    content: &ContentStore,
    party: &Party,
    dossiers: &[Dossier],
    documents: &[Document],
) -> anyhow::Result<()> {
    let mut indexed = Vec::with_capacity(documents.len());
    for document in documents {
        let file = entry_name(document);
        // Scans and PDFs are compressed already: stored, not deflated.
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(document.size >= u64::from(u32::MAX));
        zip.start_file(file.as_str(), options)?;
        let sha256 = Sha256Hex::parse(&document.sha256)
            .map_err(|_| anyhow::anyhow!("unreadable hash for document {}", document.id))?;
        let mut stream =
            runtime.block_on(content.read(&sha256, document.size, 0..document.size))?;
        while let Some(piece) = runtime.block_on(stream.next()) {
            zip.write_all(&piece?)?;
        }
        indexed.push(IndexedDocument { file, document });
    }
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);

    zip.start_file("index.csv", deflated)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "file",
        "id",
        "document_date",
        "direction",
        "channel",
        "source",
        "document_type",
        "title",
        "dossiers",
        "media_type",
        "size",
        "sha256",
        "archived_at",
    ])?;
    for entry in &indexed {
        let d = entry.document;
        let dossiers: Vec<&str> = d.dossiers.iter().map(|x| x.reference.as_str()).collect();
        let record = [
            entry.file.as_str(),
            &d.id.to_string(),
            &d.document_date,
            d.direction.as_str(),
            d.channel.as_str(),
            &d.source,
            &d.document_type,
            d.title.as_deref().unwrap_or_default(),
            &dossiers.join(";"),
            &d.media_type,
            &d.size.to_string(),
            &d.sha256,
            &d.archived_at,
        ];
        csv.write_record(
            record
                .map(inert_in_spreadsheets)
                .iter()
                .map(|cell| cell.as_bytes()),
        )?;
    }
    zip.write_all(&csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;

    zip.start_file("index.json", deflated)?;
    let index = ExportIndex {
        exported_at: now_timestamp(),
        party,
        dossiers,
        documents: indexed,
    };
    serde_json::to_writer_pretty(&mut *zip, &index)?;
    Ok(())
}

/// A CSV cell that a spreadsheet shows as text, never evaluates (OWASP, "CSV Injection"): a
/// title comes from whoever wrote the letter or the email's Subject, and `=HYPERLINK(…)` or
/// `=cmd|' /C calc'!A0` opened by the person exercising their right of access would run. A
/// cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which
/// spreadsheets hide; the csv writer quotes the rest (separators, quotes, line breaks).
fn inert_in_spreadsheets(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// `documents/2024-03-05_RECLAMATION_<id>.pdf`: sorted by date in any file manager, unique by id.
fn entry_name(document: &Document) -> String {
    let extension = document
        .file_name
        .as_deref()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .filter(|extension| {
            extension.len() <= 5 && extension.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .or_else(|| {
            mime_guess::get_mime_extensions_str(&document.media_type)
                .and_then(|extensions| extensions.first())
                .map(|extension| extension.to_string())
        })
        .unwrap_or_else(|| "bin".to_string());
    let document_type: String = document
        .document_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "documents/{}_{document_type}_{}.{extension}",
        document.document_date, document.id
    )
}
