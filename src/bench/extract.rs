//! `ged bench extract`: pages per second of text extraction (PDF text layer) and of OCR
//! (French Tesseract on scanned pages), with the same code the extraction worker runs; beside
//! them, in the same run on the same file, poppler's `pdftotext` as the reference for text
//! layers. First, one-page letters read one file at a time as the worker reads them: in the
//! extraction process (with its limits) beside the in-process reading the server did before,
//! the cost of the isolation.
//!
//! The letters are generated: pages of French sentences from the search benchmark's word list,
//! written as a PDF with a text layer; the scans are those pages rendered at 300 dpi, as a
//! scanner would deliver them.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::synthetic::sentence;
use crate::extraction::isolation::{IsolatedReader, UntrustedFileLimits};
use crate::extraction::ocr::Ocr;
use crate::extraction::{ExtractionOutcome, pdf};

pub struct Options {
    /// One-page letters, and pages of the text-layer PDF.
    pub pages: usize,
    /// Pages read by OCR (OCR takes seconds per page).
    pub ocr_pages: usize,
    /// Where to work (a fresh temporary folder by default).
    pub bench_dir: Option<PathBuf>,
}

/// Lines per page: a typed letter's page.
const LINES: usize = 40;
/// Rounds of the letters' measures, alternated; the best of each is shown (the machine's
/// other work only ever slows a round down).
const ROUNDS: usize = 3;

pub async fn run(options: Options) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let root = options
        .bench_dir
        .clone()
        .unwrap_or_else(|| temporary.path().join("bench"));
    std::fs::create_dir_all(&root)?;
    let mut rng = SmallRng::seed_from_u64(7);
    let pages: Vec<Vec<String>> = (0..options.pages.max(options.ocr_pages))
        .map(|_| (0..LINES).map(|_| sentence(&mut rng, 6..11)).collect())
        .collect();
    let letter = pdf::write_text_pdf(&pages[..options.pages]);
    let letter_path = root.join("letters.pdf");
    std::fs::write(&letter_path, &letter)?;
    println!(
        "ged bench extract: {} pages of {LINES} lines ({} KiB PDF), {} pages for OCR, in {}",
        options.pages,
        letter.len() / 1024,
        options.ocr_pages,
        root.display()
    );
    println!();

    let letters: Vec<Vec<u8>> = pages[..options.pages]
        .iter()
        .map(|page| pdf::write_text_pdf(std::slice::from_ref(page)))
        .collect();
    let scratch = root.join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let mut reader = IsolatedReader::new(UntrustedFileLimits::default(), scratch);
    let (mut in_process, mut isolated) = (Measure::WORST, Measure::WORST);
    for _ in 0..ROUNDS {
        in_process = in_process.best(letters_in_process(&letters).await?);
        isolated = isolated.best(letters_isolated(&mut reader, &letters).await?);
    }
    println!(
        "{:<44} {:>10} {:>12} {:>14}",
        "one-page letters", "letters", "letters/s", "CPU ms/letter"
    );
    in_process.row("in the server's process (before)", letters.len());
    isolated.row("in the extraction process (ged)", letters.len());
    println!(
        "{:<44} {:>10} {:>11.1}% {:>13.1}%",
        "cost of the isolation",
        "",
        100.0 * (isolated.seconds / in_process.seconds - 1.0),
        100.0 * (isolated.cpu_seconds / in_process.cpu_seconds - 1.0)
    );
    println!();
    println!("{:<44} {:>10} {:>12}", "", "pages", "pages/s");

    let started = Instant::now();
    let read = tokio::task::spawn_blocking(move || pdf::page_texts(&letter)).await?;
    let read = read.map_err(|reason| anyhow::anyhow!(reason))?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        read.len() == options.pages && pdf::has_text_layer(&read),
        "the text layer was not read whole"
    );
    row("PDF text layer (ged, pdf-extract)", read.len(), elapsed);

    match which("pdftotext") {
        true => {
            let started = Instant::now();
            let status = tokio::process::Command::new("pdftotext")
                .arg(&letter_path)
                .arg(root.join("letters.txt"))
                .status()
                .await?;
            anyhow::ensure!(status.success(), "pdftotext failed");
            row(
                "baseline: pdftotext (poppler)",
                options.pages,
                started.elapsed().as_secs_f64(),
            );
        }
        false => println!("baseline: pdftotext not installed (package poppler-utils)"),
    }

    if options.ocr_pages == 0 {
        return Ok(());
    }
    let ocr = match Ocr::detect().await {
        Ok(ocr) => ocr,
        Err(reason) => {
            println!("OCR: not measured: {reason}");
            return Ok(());
        }
    };
    let scans_path = root.join("scans.pdf");
    std::fs::write(
        &scans_path,
        pdf::write_text_pdf(&pages[..options.ocr_pages]),
    )?;
    let scratch = root.join("pages");
    std::fs::create_dir_all(&scratch)?;
    let started = Instant::now();
    let mut images = Vec::with_capacity(options.ocr_pages);
    for page in 1..=options.ocr_pages as u32 {
        let image = ocr
            .render_page(&scans_path, &scratch, page)
            .await
            .map_err(|reason| anyhow::anyhow!(reason))
            .context("cannot render the pages")?
            .context("a page is missing")?;
        images.push(image);
    }
    row(
        "render scans at 300 dpi (pdftoppm)",
        images.len(),
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    let mut found = 0;
    let mut expected = 0;
    for (image, lines) in images.iter().zip(&pages) {
        let recognised = ocr
            .image(image)
            .await
            .map_err(|reason| anyhow::anyhow!(reason))?;
        let words: HashSet<String> = recognised
            .text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        for word in lines.iter().flat_map(|line| line.split_whitespace()) {
            expected += 1;
            found += usize::from(words.contains(&word.to_lowercase()));
        }
    }
    row(
        "OCR, French, one core (ged, Tesseract)",
        images.len(),
        started.elapsed().as_secs_f64(),
    );
    println!();
    println!(
        "OCR found {found} of {expected} words of the scanned pages ({:.1}%)",
        100.0 * found as f64 / expected.max(1) as f64
    );
    Ok(())
}

/// Wall and processor time of one round of letters.
#[derive(Debug, Clone, Copy)]
struct Measure {
    seconds: f64,
    /// This process's and the extraction process's.
    cpu_seconds: f64,
}

impl Measure {
    const WORST: Self = Self {
        seconds: f64::MAX,
        cpu_seconds: f64::MAX,
    };

    fn best(self, other: Self) -> Self {
        Self {
            seconds: self.seconds.min(other.seconds),
            cpu_seconds: self.cpu_seconds.min(other.cpu_seconds),
        }
    }

    fn row(&self, label: &str, letters: usize) {
        println!(
            "{label:<44} {letters:>10} {:>12.1} {:>14.2}",
            letters as f64 / self.seconds.max(f64::EPSILON),
            1000.0 * self.cpu_seconds / letters.max(1) as f64
        );
    }
}

/// Processor time of this process (all its threads), in seconds.
fn own_cpu_seconds() -> f64 {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    time.tv_sec as f64 + time.tv_nsec as f64 / 1e9
}

/// Processor time of another process, from `/proc/<pid>/stat` (user and system ticks).
fn process_cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
    else {
        return 0.0;
    };
    // The fields after the command name, which may hold spaces, in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&field| fields.get(field)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / rustix::param::clock_ticks_per_second() as f64
}

/// Reads each letter as the worker did before: on a blocking thread of the server.
async fn letters_in_process(letters: &[Vec<u8>]) -> anyhow::Result<Measure> {
    let started = Instant::now();
    let cpu = own_cpu_seconds();
    for letter in letters {
        let letter = letter.clone();
        let pages = tokio::task::spawn_blocking(move || pdf::page_texts(&letter))
            .await?
            .map_err(|reason| anyhow::anyhow!(reason))?;
        anyhow::ensure!(pdf::has_text_layer(&pages), "a letter was not read");
    }
    Ok(Measure {
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: own_cpu_seconds() - cpu,
    })
}

/// Reads each letter as the worker does: sent to the extraction process.
async fn letters_isolated(
    reader: &mut IsolatedReader,
    letters: &[Vec<u8>],
) -> anyhow::Result<Measure> {
    let started = Instant::now();
    let cpu = own_cpu_seconds();
    let child_cpu = process_cpu_seconds(reader.process_id());
    let mut child = reader.process_id();
    for letter in letters {
        match reader.read("application/pdf", letter, None).await {
            ExtractionOutcome::Done { .. } => {}
            other => anyhow::bail!("a letter was not read: {other:?}"),
        }
        child = child.or(reader.process_id());
    }
    anyhow::ensure!(
        child == reader.process_id(),
        "the extraction process was started again during the round"
    );
    Ok(Measure {
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: own_cpu_seconds() - cpu + process_cpu_seconds(child) - child_cpu,
    })
}

fn row(label: &str, pages: usize, seconds: f64) {
    println!(
        "{label:<44} {pages:>10} {:>12.1}",
        pages as f64 / seconds.max(f64::EPSILON)
    );
}

fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("-v")
        .output()
        .is_ok_and(|output| output.status.success())
}
