//! Hostile files: each is archived (201), its text job ends with a reason, and the server —
//! a real `ged serve` process, whose resident memory is read from `/proc` — answers `/healthz`
//! throughout, stays under [`MAX_SERVER_RSS_KIB`], and starts again on the same data folder
//! without replaying anything fatal.
//!
//! The files are made here by hand: PDFs whose forms draw each other (998 bytes stopped the
//! server before files were read in a child process), reference loops, a page tree that
//! contains itself, 100,000 nested arrays, a 64 MiB content stream deflated to a few dozen
//! KiB; a PNG and a TIFF declaring 10^12 pixels; an email carrying such attachments.

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::{ANY_PORT, Served, ged, ged_scanner_token, metadata, spawn_ged_serve};

/// The server's resident memory may not pass this while it archives hostile files (at most
/// 85 MiB measured in these tests, debug build; a 64 MiB inflate bomb read in-process took it
/// to 5.7 GB).
const MAX_SERVER_RSS_KIB: u64 = 160 * 1024;
/// A hostile file's job ends within this (the extraction's own limits end it sooner).
const JOB_DEADLINE: Duration = Duration::from_secs(300);

/// A `ged serve` process on its own data folder, with a scanner's and a reader's tokens.
struct Server {
    served: Served,
    data_dir: String,
    scanner: String,
    reader: String,
    client: reqwest::Client,
    /// The largest resident memory seen.
    max_rss_kib: u64,
}

impl Server {
    async fn start(data_dir: &str) -> Self {
        // The first start creates the archive; tokens are then issued on its catalog.
        std::fs::create_dir_all(data_dir).unwrap();
        let scanner = ged_scanner_token(data_dir);
        let reader = ged(&[
            "token",
            "create",
            "--data-dir",
            data_dir,
            "--tenant",
            "default",
            "--role",
            "agent_sensitive",
        ]);
        assert!(reader.status.success());
        let reader = String::from_utf8(reader.stdout).unwrap().trim().to_string();
        Self::restart(data_dir, scanner, reader).await
    }

    async fn restart(data_dir: &str, scanner: String, reader: String) -> Self {
        let served = spawn_ged_serve(data_dir, ANY_PORT, Stdio::null()).await;
        let mut server = Self {
            served,
            data_dir: data_dir.to_string(),
            scanner,
            reader,
            client: reqwest::Client::new(),
            max_rss_kib: 0,
        };
        server.check_alive().await;
        server
    }

    fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    /// Asserts the process runs, answers `/healthz`, and is under the memory bound.
    async fn check_alive(&mut self) {
        if let Some(status) = self.served.process.try_wait().unwrap() {
            panic!("ged serve stopped: {status}");
        }
        let status = self.client.get(self.url("/healthz")).send().await;
        assert!(
            status
                .as_ref()
                .is_ok_and(|response| response.status() == 200),
            "ged serve does not answer /healthz: {status:?}"
        );
        let proc_status =
            std::fs::read_to_string(format!("/proc/{}/status", self.served.process.id())).unwrap();
        let rss_kib: u64 = proc_status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        self.max_rss_kib = self.max_rss_kib.max(rss_kib);
        assert!(
            rss_kib < MAX_SERVER_RSS_KIB,
            "ged serve holds {rss_kib} KiB resident, more than {MAX_SERVER_RSS_KIB} KiB"
        );
    }

    async fn archive(&self, bytes: &[u8], name: &str, media_type: &str) -> Value {
        let mut metadata = metadata();
        if media_type == "message/rfc822" {
            let fields = metadata.as_object_mut().unwrap();
            for field in ["channel", "document_date", "title", "received_at"] {
                fields.remove(field);
            }
        }
        let form = Form::new().text("metadata", metadata.to_string()).part(
            "file",
            Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str(media_type)
                .unwrap(),
        );
        let response = self
            .client
            .post(self.url("/api/v1/documents"))
            .bearer_auth(&self.scanner)
            .multipart(form)
            .send()
            .await
            .expect("the server answers the upload");
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{name}: {body}");
        body
    }

    async fn document(&self, id: &str) -> Value {
        self.client
            .get(self.url(&format!("/api/v1/documents/{id}")))
            .bearer_auth(&self.reader)
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .unwrap()
    }

    /// The document's text state once its job ended, the server checked alive at each look.
    async fn final_text(&mut self, id: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            self.check_alive().await;
            let text = self.document(id).await["text"].clone();
            if text["status"] != "pending" {
                return text;
            }
            assert!(
                started.elapsed() < JOB_DEADLINE,
                "the text of {id} is still pending: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server (as an operator's restart would end it) and starts it again on the
    /// same data folder; the new one must read an ordinary letter, which it can only do
    /// once past every job left from before.
    async fn restart_and_read_a_letter(mut self) -> Self {
        self.served.process.kill().unwrap();
        self.served.process.wait().unwrap();
        let mut server =
            Self::restart(&self.data_dir, self.scanner.clone(), self.reader.clone()).await;
        let letter = server
            .archive(&letter(), "lettre.pdf", "application/pdf")
            .await;
        let text = server.final_text(letter["id"].as_str().unwrap()).await;
        assert_eq!(text["status"], "done", "{text}");
        server.check_alive().await;
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.served.process.kill();
        let _ = self.served.process.wait();
    }
}

/// Archives each file on a fresh server, waits for each text job to end (with a reason when
/// no text was read: some of these files are read all the same, OCR reading a page that the
/// text layer did not), then restarts the server; the text states, in the files' order.
async fn each_fails_alone(files: &[(&str, &str, Vec<u8>)]) -> Vec<Value> {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut server = Server::start(data_dir.to_str().unwrap()).await;
    let mut ids = Vec::new();
    for (name, media_type, bytes) in files {
        let document = server.archive(bytes, name, media_type).await;
        ids.push(document["id"].as_str().unwrap().to_string());
        server.check_alive().await;
    }
    let mut texts = Vec::new();
    for (id, (name, _, _)) in ids.iter().zip(files) {
        let text = server.final_text(id).await;
        eprintln!("{name}: {text}");
        assert!(
            text["status"] == "done"
                || text["reason"]
                    .as_str()
                    .is_some_and(|reason| !reason.is_empty()),
            "{name}: {text}"
        );
        texts.push(text);
    }
    let server = server.restart_and_read_a_letter().await;
    for (id, text) in ids.iter().zip(&texts) {
        assert_eq!(&server.document(id).await["text"], text);
    }
    eprintln!(
        "largest resident memory of ged serve: {} KiB",
        server.max_rss_kib
    );
    texts
}

/// An ordinary one-page letter with a text layer.
fn letter() -> Vec<u8> {
    ged::extraction::pdf::write_text_pdf(&[vec![
        "Objet : demande de remise gracieuse après redémarrage".into(),
        "Madame, Monsieur, je vous prie de bien vouloir examiner ma demande.".into(),
    ]])
}

/// A PDF of the given objects (numbered from 1, the first the catalog).
fn pdf_of(objects: &[Vec<u8>]) -> Vec<u8> {
    ged::extraction::pdf::pdf_of_objects(objects)
}

/// A stream object: `dictionary` entries, then the data.
fn stream(dictionary: &str, data: &[u8]) -> Vec<u8> {
    let mut object = format!("<< {dictionary} /Length {} >>\nstream\n", data.len()).into_bytes();
    object.extend_from_slice(data);
    object.extend_from_slice(b"\nendstream");
    object
}

const CATALOG: &[u8] = b"<< /Type /Catalog /Pages 2 0 R >>";
const ONE_PAGE: &[u8] = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
const FONT: &str = "/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >>";

/// A page (object 3) drawing its content (object 4) with `resources`.
fn page(resources: &str) -> Vec<u8> {
    format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources {resources} \
         /Contents 4 0 R >>"
    )
    .into_bytes()
}

/// Two Form XObjects that draw each other: the 998-byte file of the issue.
fn forms_drawing_each_other() -> Vec<u8> {
    let form = |other: u32| {
        stream(
            &format!(
                "/Type /XObject /Subtype /Form /BBox [0 0 595 842] \
                 /Resources << {FONT} /XObject << /X {other} 0 R >> >>"
            ),
            b"BT /F1 12 Tf 56 780 Td (boucle) Tj ET /X Do",
        )
    };
    pdf_of(&[
        CATALOG.to_vec(),
        ONE_PAGE.to_vec(),
        page("<< /XObject << /X 5 0 R >> >>"),
        stream("", b"/X Do"),
        form(6),
        form(5),
    ])
}

/// Resources that are a reference to a reference to the first; a form that draws itself.
fn reference_loops() -> Vec<u8> {
    pdf_of(&[
        CATALOG.to_vec(),
        ONE_PAGE.to_vec(),
        page("5 0 R"),
        stream("", b"BT /F1 12 Tf 56 780 Td (boucle) Tj ET /X Do"),
        b"6 0 R".to_vec(),
        b"5 0 R".to_vec(),
    ])
}

/// A page tree whose node lists itself among its kids.
fn page_tree_cycle() -> Vec<u8> {
    pdf_of(&[
        CATALOG.to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>".to_vec(),
        page(&format!("<< {FONT} >>")),
        stream("", b"BT /F1 12 Tf 56 780 Td (arbre) Tj ET"),
    ])
}

/// 100,000 nested arrays in the page's resources and in its content.
fn deep_nesting() -> Vec<u8> {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    pdf_of(&[
        CATALOG.to_vec(),
        ONE_PAGE.to_vec(),
        page(&format!("<< {FONT} /Nested {nested} >>")),
        stream("", format!("BT /F1 12 Tf {nested} TJ ET").as_bytes()),
    ])
}

/// A page whose deflated content stream inflates to 64 MiB of text-drawing operators.
fn inflate_bomb() -> Vec<u8> {
    let line = b"BT /F1 12 Tf 56 780 Td (Madame, Monsieur, nous accusons reception) Tj ET\n";
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = line.repeat(1024 * 1024 / line.len());
    let mut written = 0;
    while written < 64 * 1024 * 1024 {
        encoder.write_all(&block).unwrap();
        written += block.len();
    }
    let deflated = encoder.finish().unwrap();
    pdf_of(&[
        CATALOG.to_vec(),
        ONE_PAGE.to_vec(),
        page(&format!("<< {FONT} >>")),
        stream("/Filter /FlateDecode", &deflated),
    ])
}

/// CRC-32 (ISO-HDLC) of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG declaring `width` × `height` grey pixels, with one deflated empty row: 74 bytes at
/// 1,000,000 × 1,000,000.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        chunk.extend_from_slice(&body);
        chunk.extend_from_slice(&crc32(&body).to_be_bytes());
        chunk
    };
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A little-endian TIFF declaring `width` × `height` grey pixels in one strip of one byte.
fn tiff_bomb(width: u32, height: u32) -> Vec<u8> {
    // (tag, type, value): type 3 SHORT, 4 LONG.
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 + 2 + 9 * 12 + 4),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, 1),
    ];
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&value.to_le_bytes());
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.push(0);
    tiff
}

/// An email with a text body and these attachments (base64).
fn email_with(attachments: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    use base64::Engine as _;
    let mut email = String::from(
        "From: inconnu@example.org\r\nTo: accueil@caf.example\r\n\
         Subject: Pieces jointes\r\nDate: Tue, 5 Mar 2024 09:30:00 +0100\r\n\
         Message-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nVoir les pieces jointes.\r\n",
    );
    for (name, media_type, bytes) in attachments {
        email.push_str(&format!(
            "--b1\r\nContent-Type: {media_type}; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .as_bytes()
                .chunks(76)
                .map(|line| std::str::from_utf8(line).unwrap())
                .collect::<Vec<_>>()
                .join("\r\n")
        ));
    }
    email.push_str("--b1--\r\n");
    email.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdfs_that_recurse_fail_their_own_job_never_the_server() {
    let recursive = forms_drawing_each_other();
    assert!(recursive.len() < 1100, "{} bytes", recursive.len());
    let texts = each_fails_alone(&[
        ("formes.pdf", "application/pdf", recursive),
        ("boucles.pdf", "application/pdf", reference_loops()),
        ("arbre.pdf", "application/pdf", page_tree_cycle()),
        ("imbrication.pdf", "application/pdf", deep_nesting()),
    ])
    .await;
    let forms = texts[0]["reason"].as_str().unwrap();
    assert_eq!(texts[0]["status"], "failed", "{}", texts[0]);
    assert!(forms.contains("nests deeper"), "{forms}");
    assert_eq!(texts[1]["status"], "failed", "{}", texts[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inflate_bomb_is_read_outside_the_server_within_its_memory_limit() {
    let bomb = inflate_bomb();
    assert!(bomb.len() < 512 * 1024, "{} bytes", bomb.len());
    let texts = each_fails_alone(&[("bombe.pdf", "application/pdf", bomb)]).await;
    assert_eq!(texts[0]["status"], "failed", "{}", texts[0]);
    let reason = texts[0]["reason"].as_str().unwrap();
    assert!(reason.contains("MiB of memory"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_declaring_huge_sizes_are_not_given_to_ocr() {
    let png = png_bomb(1_000_000, 1_000_000);
    assert!(png.len() < 100, "{} bytes", png.len());
    let texts = each_fails_alone(&[
        ("bombe.png", "image/png", png),
        ("bombe.tiff", "image/tiff", tiff_bomb(1_000_000, 1_000_000)),
        ("grande.png", "image/png", png_bomb(20_000, 20_000)),
    ])
    .await;
    for text in &texts {
        assert_eq!(text["status"], "failed", "{text}");
        let reason = text["reason"].as_str().unwrap();
        assert!(reason.contains("pixels"), "{reason}");
    }
    assert!(
        texts[0]["reason"]
            .as_str()
            .unwrap()
            .contains("1000000 × 1000000"),
        "{}",
        texts[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_carrying_hostile_files_is_archived_and_each_attachment_fails_alone() {
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut server = Server::start(data_dir.to_str().unwrap()).await;
    let email = email_with(&[
        ("formes.pdf", "application/pdf", forms_drawing_each_other()),
        ("bombe.png", "image/png", png_bomb(1_000_000, 1_000_000)),
        ("bombe.pdf", "application/pdf", inflate_bomb()),
    ]);
    let document = server
        .archive(&email, "hostile.eml", "message/rfc822")
        .await;
    assert_eq!(document["text"]["status"], "done", "{document}");
    let attachments = document["attachments"].as_array().unwrap().clone();
    assert_eq!(attachments.len(), 3, "{document}");
    for attachment in &attachments {
        let text = server.final_text(attachment["id"].as_str().unwrap()).await;
        assert_eq!(text["status"], "failed", "{attachment}: {text}");
    }
    let server = server.restart_and_read_a_letter().await;
    eprintln!(
        "largest resident memory of ged serve: {} KiB",
        server.max_rss_kib
    );
}

#[tokio::test]
async fn attachments_past_the_limit_stay_inside_the_email_with_the_reason() {
    let app = crate::helpers::spawn_app().await;
    let attachments: Vec<(String, Vec<u8>)> = (0..130)
        .map(|i| {
            (
                format!("piece-{i}.txt"),
                format!("pièce numéro {i}").into_bytes(),
            )
        })
        .collect();
    let attachments: Vec<(&str, &str, Vec<u8>)> = attachments
        .iter()
        .map(|(name, bytes)| (name.as_str(), "text/plain", bytes.clone()))
        .collect();
    let mut metadata = metadata();
    let fields = metadata.as_object_mut().unwrap();
    for field in ["channel", "document_date", "title", "received_at"] {
        fields.remove(field);
    }
    let email = app
        .archive_ok(
            &metadata,
            Part::bytes(email_with(&attachments))
                .file_name("pieces.eml")
                .mime_str("message/rfc822")
                .unwrap(),
        )
        .await;
    let split = email["attachments"].as_array().unwrap();
    assert_eq!(split.len(), 100, "the default limit");
    assert_eq!(split[99]["file_name"], "piece-99.txt");
    assert_eq!(email["text"]["status"], "done", "{email}");
    let reason = email["text"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("30 attachments past the first 100"),
        "{}",
        email["text"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_nesting_twenty_thousand_messages_is_kept_whole_with_its_headers() {
    // Attached messages nest as values the parser drops recursively: parsed whole at
    // archiving time, this message overflowed the archiving thread's stack and aborted the
    // server.
    let nested = "Subject: transfert\r\nContent-Type: message/rfc822\r\n\r\n".repeat(20_000)
        + "Subject: fond\r\n\r\nfond\r\n";
    let email = format!(
        "From: inconnu@example.org\r\nTo: accueil@caf.example\r\nSubject: Emboitement\r\n\
         Date: Tue, 5 Mar 2024 09:30:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: message/rfc822\r\n\r\n{nested}"
    );
    let folder = tempfile::tempdir().unwrap();
    let data_dir = folder.path().join("data");
    let mut server = Server::start(data_dir.to_str().unwrap()).await;
    let document = server
        .archive(email.as_bytes(), "emboitement.eml", "message/rfc822")
        .await;
    assert_eq!(document["title"], "Emboitement", "{document}");
    assert_eq!(document["text"]["status"], "skipped", "{document}");
    let reason = document["text"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("may nest more than 1000 messages"),
        "{reason}"
    );
    server.check_alive().await;
    server.restart_and_read_a_letter().await;
}
