//! `ged bench`: the benchmarks, each printing its figures beside a baseline measured in the
//! same run; this file turns the flags into each benchmark's options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;

#[derive(Subcommand)]
pub(super) enum BenchCommand {
    /// A batch through `ged ingest` and the HTTP protocol against the disk's raw limit
    /// (write + fsync + rename), on the same files.
    Ingest {
        /// Files in the batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        documents: u64,
        /// Bytes per file.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(16..))]
        size: u64,
        /// Upload requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// People the documents concern (client number, name, birth date), documents dealt
        /// out in turn, as a day's mail comes back to known people; by default a new person
        /// per document (client number only).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        people: Option<u64>,
        /// Where to work (a fresh temporary folder by default; must be empty).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
    },
    /// Pages per second of PDF text-layer extraction (beside poppler's pdftotext) and of
    /// French OCR with Tesseract, on generated letters.
    Extract {
        /// Pages of the text-layer PDF.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
        pages: u64,
        /// Pages read by OCR (0 to skip OCR).
        #[arg(long = "ocr-pages", default_value_t = 20)]
        ocr_pages: u64,
        /// Where to work (a fresh temporary folder by default).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
    },
    /// Search latency and throughput against SQLite (indexes + FTS5) on a synthetic archive.
    Search {
        /// Documents in the synthetic archive (at least 1,000).
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..))]
        documents: u64,
        /// Queries per class.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Where to build the archive (a fresh temporary folder by default; must be empty).
        #[arg(long = "bench-dir")]
        bench_dir: Option<PathBuf>,
    },
}

pub(super) async fn run(command: BenchCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest {
            documents,
            size,
            concurrency,
            people,
            bench_dir,
        } => {
            crate::bench::ingest::run(crate::bench::ingest::Options {
                documents: usize::try_from(documents)?,
                size: usize::try_from(size)?,
                concurrency,
                people: people.map(usize::try_from).transpose()?,
                bench_dir,
                // `--store s3://…`: the server keeps content there, compared with plain PUTs.
                store: settings.store.clone(),
                // `--catalog postgres://…`: the server's catalog on PostgreSQL.
                catalog: settings.catalog.clone(),
            })
            .await?;
        }
        BenchCommand::Extract {
            pages,
            ocr_pages,
            bench_dir,
        } => {
            crate::bench::extract::run(crate::bench::extract::Options {
                pages: usize::try_from(pages)?,
                ocr_pages: usize::try_from(ocr_pages)?,
                bench_dir,
            })
            .await?;
        }
        BenchCommand::Search {
            documents,
            queries,
            bench_dir,
        } => {
            crate::bench::search::run(crate::bench::search::Options {
                documents: usize::try_from(documents)?,
                queries,
                data_dir: bench_dir,
            })
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
