//! What the extraction process does with one file: the text of a PDF's text layer, of an
//! email's body, of a plain text, or OCR of a scan. It runs in the child process of
//! [`super::isolation`], never in the server: these parsers read files from outside.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use super::ocr::{Ocr, OcrError, Recognised};
use super::{ExtractionOutcome, TextMethod, images, needs_ocr, pdf};

/// One file to read, as the server sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadRequest {
    pub media_type: String,
    /// Bytes of the file, which follow the request on the process's input.
    pub size: u64,
    /// Where OCR writes its temporary files.
    pub scratch: PathBuf,
    /// The OCR programs, when this server runs OCR.
    pub ocr: Option<Ocr>,
    pub max_image_pixels: u64,
    /// Address space of the process and of the programs it runs.
    pub memory_bytes: u64,
    /// Processor time the file may take.
    pub cpu_seconds: u64,
}

/// Stack of the thread that parses a PDF. The parser recurses into the forms a page draws,
/// so this bounds how deeply a file may nest them: a deeper file overflows it and stops the
/// process, which fails that file's job alone. Real letters nest a few levels.
const PDF_PARSER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Reads one file. The text is bounded to [`super::MAX_TEXT_BYTES`].
pub async fn read(request: &ReadRequest, bytes: Vec<u8>) -> ExtractionOutcome {
    let outcome = match request.media_type.as_str() {
        "text/plain" => ExtractionOutcome::Done {
            method: TextMethod::Text,
            pages: 1,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        },
        "message/rfc822" => {
            let parsed = crate::email::parse(&bytes, 0);
            match parsed.unreadable {
                Some(reason) => ExtractionOutcome::Failed(reason),
                None => ExtractionOutcome::Done {
                    method: TextMethod::Email,
                    pages: 1,
                    text: parsed.body.unwrap_or_default(),
                },
            }
        }
        "application/pdf" => read_pdf(request, bytes).await,
        // Checked first: no decoder sees an image declaring more pixels than the limit.
        media_type if needs_ocr(media_type) => {
            match (
                images::within_limit(&bytes, request.max_image_pixels),
                &request.ocr,
            ) {
                (Err(reason), _) => ExtractionOutcome::Failed(reason),
                (Ok(()), Some(ocr)) => {
                    with_file(request, &bytes, |input, _| async move {
                        ocr.image(&input).await
                    })
                    .await
                }
                (Ok(()), None) => ExtractionOutcome::NeedsOcr,
            }
        }
        other => ExtractionOutcome::Failed(format!("no text is read from {other} content")),
    };
    outcome.bounded()
}

/// What the PDF thread answers: the pages' texts, and the bytes handed back for OCR.
type Parsed = (Result<Vec<String>, String>, Vec<u8>);

/// The thread that parses PDFs, with its bounded stack; started at the first PDF and kept
/// (a thread per file cost a fresh stack and allocator cache each time).
struct PdfThread {
    files: mpsc::Sender<Vec<u8>>,
    parsed: mpsc::Receiver<Parsed>,
}

static PDF_THREAD: Mutex<Option<PdfThread>> = Mutex::new(None);

/// The pages of a PDF, parsed on the PDF thread.
fn parse_pdf(bytes: Vec<u8>) -> Result<Parsed, String> {
    let mut thread = PDF_THREAD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if thread.is_none() {
        let (files, files_in) = mpsc::channel::<Vec<u8>>();
        let (parsed_out, parsed) = mpsc::channel();
        std::thread::Builder::new()
            .name("pdf".into())
            .stack_size(PDF_PARSER_STACK_BYTES)
            .spawn(move || {
                for bytes in files_in {
                    if parsed_out.send((pdf::page_texts(&bytes), bytes)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|error| format!("cannot start the PDF reader: {error}"))?;
        *thread = Some(PdfThread { files, parsed });
    }
    let running = thread.as_ref().expect("started above");
    let answer = running
        .files
        .send(bytes)
        .ok()
        .and_then(|()| running.parsed.recv().ok());
    // `page_texts` catches the parser's panics: a thread gone is a thread to start again.
    answer.ok_or_else(|| {
        *thread = None;
        "the PDF reader stopped".to_string()
    })
}

async fn read_pdf(request: &ReadRequest, bytes: Vec<u8>) -> ExtractionOutcome {
    let (pages, bytes) = match parse_pdf(bytes) {
        Ok(parsed) => parsed,
        Err(reason) => return ExtractionOutcome::Retry(reason),
    };
    let pages = match pages {
        Ok(pages) => pages,
        Err(reason) => return ExtractionOutcome::Failed(reason),
    };
    if pdf::has_text_layer(&pages) {
        return ExtractionOutcome::Done {
            method: TextMethod::Pdf,
            pages: pages.len() as u32,
            text: pdf::join_pages(&pages),
        };
    }
    match &request.ocr {
        // pdftoppm renders each page fitted in an A4 page at 300 dpi, whatever size it
        // declares: no image bomb there.
        Some(ocr) => {
            with_file(request, &bytes, |input, pages| async move {
                ocr.pdf(&input, &pages).await
            })
            .await
        }
        None => ExtractionOutcome::NeedsOcr,
    }
}

/// Runs OCR on the bytes written to a file in a temporary folder of the scratch folder.
async fn with_file<F, Fut>(request: &ReadRequest, bytes: &[u8], ocr: F) -> ExtractionOutcome
where
    F: FnOnce(PathBuf, PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<Recognised, OcrError>>,
{
    let folder = match tempfile::Builder::new()
        .prefix("extract-")
        .tempdir_in(&request.scratch)
    {
        Ok(folder) => folder,
        Err(error) => return ExtractionOutcome::Retry(format!("no scratch folder: {error}")),
    };
    let input = folder.path().join("input");
    if let Err(error) = tokio::fs::write(&input, bytes).await {
        return ExtractionOutcome::Retry(format!("cannot write a scratch file: {error}"));
    }
    let pages = folder.path().join("pages");
    if let Err(error) = tokio::fs::create_dir(&pages).await {
        return ExtractionOutcome::Retry(format!("cannot write a scratch folder: {error}"));
    }
    match ocr(input, pages).await {
        Ok(recognised) => ExtractionOutcome::Done {
            method: TextMethod::Ocr,
            pages: recognised.pages,
            text: recognised.text,
        },
        Err(OcrError::Input(reason)) => ExtractionOutcome::Failed(reason),
        Err(OcrError::Program(reason)) => ExtractionOutcome::Retry(reason),
    }
}
