//! OCR in French with Tesseract, run as a program: the Debian packages `tesseract-ocr` and
//! `tesseract-ocr-fra`, and `poppler-utils` (`pdftoppm`) to turn PDF pages without a text
//! layer into images. Without them the archive works and says OCR is off.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Tesseract's language: French.
const LANGUAGE: &str = "fra";
/// Pages are rendered to fit this many pixels on their long side: an A4 page at 300 dpi
/// (Tesseract's accuracy drops below 300 dpi), and no more whatever size a page declares.
const A4_LONG_SIDE: &str = "3508";
/// A longer scan has only its first pages read.
pub const MAX_PAGES: u32 = 500;
/// One document's OCR may not hold the worker longer than this.
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The OCR programs found on this machine (sent to the extraction process with each file).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ocr {
    tesseract: String,
    pdftoppm: String,
    /// Whether `nice` is there to run OCR below archiving and search in priority.
    nice: bool,
}

/// Why OCR gave no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    /// The program ran and refused the file: trying again changes nothing.
    #[error("{0}")]
    Input(String),
    /// The program could not run, or ran out of time: worth trying again.
    #[error("{0}")]
    Program(String),
}

/// Text read from images, and how many pages it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub text: String,
    pub pages: u32,
}

impl Ocr {
    /// Finds Tesseract with its French data and `pdftoppm`; `Err` says what is missing.
    pub async fn detect() -> Result<Self, String> {
        let tesseract = std::env::var("GED_TESSERACT").unwrap_or_else(|_| "tesseract".into());
        let languages = run(Command::new(&tesseract).arg("--list-langs"))
            .await
            .map_err(|e| format!("Tesseract is not installed ({e})"))?;
        if !languages.lines().any(|line| line.trim() == LANGUAGE) {
            return Err("Tesseract has no French data (package tesseract-ocr-fra)".into());
        }
        let pdftoppm = "pdftoppm".to_string();
        run(Command::new(&pdftoppm).arg("-v"))
            .await
            .map_err(|e| format!("pdftoppm (package poppler-utils) is not installed ({e})"))?;
        let nice = run(Command::new("nice").arg("true")).await.is_ok();
        Ok(Self {
            tesseract,
            pdftoppm,
            nice,
        })
    }

    /// Reads an image file (TIFF pages included).
    pub async fn image(&self, path: &Path) -> Result<Recognised, OcrError> {
        let text = run(&mut self.tesseract_command(path)).await?;
        // Tesseract ends each page with a form feed.
        let pages = text.matches('\u{c}').count().max(1) as u32;
        Ok(Recognised {
            text: text.replace('\u{c}', "\n\u{c}\n").trim().to_string(),
            pages,
        })
    }

    /// Reads a PDF's pages as images rendered one at a time in `scratch` (a folder of the
    /// caller's), each removed once read: a long scan never fills the disk. At most
    /// [`MAX_PAGES`] pages are read.
    pub async fn pdf(&self, path: &Path, scratch: &Path) -> Result<Recognised, OcrError> {
        let mut texts = Vec::new();
        for page in 1..=MAX_PAGES {
            let Some(image) = self.render_page(path, scratch, page).await? else {
                break;
            };
            let read = self.image(&image).await;
            let _ = std::fs::remove_file(&image);
            texts.push(read?.text);
        }
        Ok(Recognised {
            pages: texts.len() as u32,
            text: texts.join("\n\u{c}\n"),
        })
    }

    /// Renders page `page` (from 1) of a PDF as a grey image in `scratch`, fitted in an A4 page
    /// at 300 dpi whatever the page's declared size; `None` past the last page.
    pub async fn render_page(
        &self,
        path: &Path,
        scratch: &Path,
        page: u32,
    ) -> Result<Option<PathBuf>, OcrError> {
        let page = page.to_string();
        let prefix = scratch.join(format!("page-{page}"));
        let rendered = run(self
            .command(&self.pdftoppm)
            .args(["-f", &page, "-l", &page, "-singlefile"])
            // Uncompressed grey (PGM): encoding a PNG took 7 times longer than rendering.
            .args(["-scale-to", A4_LONG_SIDE, "-gray"])
            .arg(path)
            .arg(&prefix))
        .await;
        let image = prefix.with_extension("pgm");
        match rendered {
            Ok(_) if image.exists() => Ok(Some(image)),
            // pdftoppm refuses a first page past the last one.
            Ok(_) | Err(OcrError::Input(_)) if page != "1" => Ok(None),
            Ok(_) => Err(OcrError::Input("the PDF has no page".into())),
            Err(error) => Err(error),
        }
    }

    fn tesseract_command(&self, image: &Path) -> Command {
        let mut command = self.command(&self.tesseract);
        command
            .arg(image)
            .arg("stdout")
            .args(["-l", LANGUAGE])
            // One thread per page: the worker, not Tesseract, decides how many cores OCR takes.
            .env("OMP_THREAD_LIMIT", "1");
        command
    }

    /// A command for `program`, niced when `nice` is there: OCR takes seconds of CPU per
    /// page and must not slow down archiving and searches on the same machine.
    fn command(&self, program: &str) -> Command {
        if self.nice {
            let mut command = Command::new("nice");
            command.args(["-n", "10", program]);
            command
        } else {
            Command::new(program)
        }
    }
}

/// Runs a program to completion within [`TIMEOUT`]; its standard output, or why it failed.
async fn run(command: &mut Command) -> Result<String, OcrError> {
    let std = command.as_std();
    // Named after what runs, not after `nice`.
    let program = if std.get_program() == "nice" {
        std.get_args().nth(2).unwrap_or_default()
    } else {
        std.get_program()
    }
    .to_string_lossy()
    .into_owned();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(TIMEOUT, command.output())
        .await
        .map_err(|_| {
            OcrError::Program(format!(
                "{program} ran longer than {} minutes",
                TIMEOUT.as_secs() / 60
            ))
        })?
        .map_err(|e| OcrError::Program(format!("{program} cannot be run: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
        return Err(OcrError::Input(format!(
            "{program} failed ({}): {}",
            output.status,
            last.unwrap_or("no message")
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
