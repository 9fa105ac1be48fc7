//! `ged reindex`: rebuilding the index from the catalog, with a progress bar.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::document::to_index_document;
use super::schema::build_schema;
use super::writer::{
    CatalogState, IndexLock, REBUILD_WRITER_MEMORY, commit, open_or_create, take_writer,
};
use crate::catalog::{Catalog, IndexPage};

/// Documents read from the catalog at once (fewer when their texts are long, see
/// [`IndexPage`]). A party shared by documents of a page is read once per page. A page comes
/// back as one JSON list (see `load_index_sources`) whose copies are
/// held while it is parsed: on 1M documents, pages of 20,000 peaked at 464–480 MiB against
/// 405 MiB for 10,000 (the target is 512), for 10% more speed.
const PAGE: IndexPage = IndexPage::of(10_000);

#[derive(Debug, Clone)]
pub struct RebuildReport {
    pub documents: u64,
    pub seconds: f64,
    pub index_bytes: u64,
    /// The process's peak resident memory, when the system tells it.
    pub peak_memory_bytes: Option<u64>,
}

impl RebuildReport {
    pub fn documents_per_second(&self) -> f64 {
        self.documents as f64 / self.seconds.max(f64::EPSILON)
    }
}

/// Replaces the index in `folder` with one built from every document of the catalog. Fails if
/// a running server holds the index.
pub async fn rebuild(
    catalog: &dyn Catalog,
    folder: &Path,
    show_progress: bool,
) -> anyhow::Result<RebuildReport> {
    let started = Instant::now();
    let lock = IndexLock::acquire(folder)?;
    // Changes after this point are applied by the server's writer when it starts.
    let state = CatalogState::read(catalog).await?;
    let (index, _, mut queue) = open_or_create(&lock, folder, &state)?;
    let mut writer = take_writer(&index, REBUILD_WRITER_MEMORY)?;
    writer.delete_all_documents()?;
    let (_, fields) = build_schema();
    let total = catalog.document_count().await?;
    let progress = if show_progress {
        ProgressBar::new(u64::try_from(total).unwrap_or_default()).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} documents, {per_sec}, {eta} left")
                .expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let mut documents = 0u64;
    // A pipeline: while one page is turned into index documents on a blocking thread (and
    // tantivy's threads index them), the catalog reads the next one.
    let mut page = catalog.documents_in_archive_order(0, PAGE).await?;
    while let Some(last) = page.last() {
        let after = last.archived_seq;
        let count = page.len() as u64;
        let indexing = tokio::task::spawn_blocking(move || {
            for source in &page {
                writer.add_document(to_index_document(&fields, source))?;
                queue.handed(source);
            }
            Ok::<_, tantivy::TantivyError>((writer, queue))
        });
        let next = catalog.documents_in_archive_order(after, PAGE).await;
        (writer, queue) = indexing.await??;
        page = next?;
        documents += count;
        progress.inc(count);
    }
    commit(&mut writer, state.latest_seq, &state.identity)?;
    writer.wait_merging_threads()?;
    progress.finish_and_clear();
    Ok(RebuildReport {
        documents,
        seconds: started.elapsed().as_secs_f64(),
        index_bytes: folder_size(folder),
        peak_memory_bytes: peak_memory_bytes(),
    })
}

/// Bytes of the files under `folder`.
pub fn folder_size(folder: &Path) -> u64 {
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => folder_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The peak resident memory of this process (Linux `VmHWM`).
pub fn peak_memory_bytes() -> Option<u64> {
    process_peak_memory_bytes("self")
}

/// The processor time a process (`self` or a pid) has used so far, user and system (Linux
/// `/proc/…/stat`).
pub fn process_cpu_time(process: &str) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second();
    Some(std::time::Duration::from_secs_f64(
        (user + system) as f64 / ticks as f64,
    ))
}

/// The peak resident memory of a process (`self` or a pid) so far (Linux `VmHWM`).
pub fn process_peak_memory_bytes(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}
