//! `ged bench extract`: pages per second of text extraction (PDF text layer) and of OCR
//! (French Tesseract on scanned pages), with the same code the extraction worker runs; beside
//! them, in the same run on the same file, poppler's `pdftotext` as the reference for text
//! layers.
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
use crate::extraction::ocr::Ocr;
use crate::extraction::pdf;

pub struct Options {
    /// Pages of the text-layer PDF.
    pub pages: usize,
    /// Pages read by OCR (OCR takes seconds per page).
    pub ocr_pages: usize,
    /// Where to work (a fresh temporary folder by default).
    pub bench_dir: Option<PathBuf>,
}

/// Lines per page: a typed letter's page.
const LINES: usize = 40;

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
