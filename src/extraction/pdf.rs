//! The text layer of PDFs, page by page (`pdf-extract`, pure Rust on `lopdf`).

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Fewer letters and digits than this per page, on average, means a scan without a text
/// layer (a page number or a stray glyph is not a text layer).
const TEXT_LAYER_MINIMUM: usize = 16;

/// The text of each page, or why the file cannot be read. Runs the parser under
/// `catch_unwind`: it panics on some malformed files, and a bad file must fail its job, not
/// the worker. CPU-bound: call it from a blocking thread.
pub fn page_texts(bytes: &[u8]) -> Result<Vec<String>, String> {
    match catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    })) {
        Ok(Ok(pages)) => Ok(pages),
        Ok(Err(error)) => Err(format!("the PDF cannot be read: {error}")),
        Err(_) => Err("the PDF cannot be read: its structure is malformed".into()),
    }
}

/// Whether the pages carry words, rather than being images of them.
pub fn has_text_layer(pages: &[String]) -> bool {
    let letters: usize = pages
        .iter()
        .map(|page| page.chars().filter(|c| c.is_alphanumeric()).count())
        .sum();
    !pages.is_empty() && letters >= TEXT_LAYER_MINIMUM * pages.len()
}

/// The pages joined as one text, form feeds between pages (as `pdftotext` and Tesseract do).
pub fn join_pages(pages: &[String]) -> String {
    pages
        .iter()
        .map(|page| page.trim())
        .collect::<Vec<_>>()
        .join("\n\u{c}\n")
}

/// A PDF of text pages in Helvetica, for tests and benchmarks: the smallest well-formed file
/// (cross-reference table with exact offsets) that viewers, `pdf-extract` and `pdftoppm` read.
/// Lines are Latin-1 (WinAnsi) text; characters outside it become `?`.
pub fn write_text_pdf(pages: &[Vec<String>]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let page_count = pages.len();
    // 1: catalog, 2: pages, 3: font, then (page, content) pairs.
    let kids: Vec<String> = (0..page_count)
        .map(|i| format!("{} 0 R", 4 + 2 * i))
        .collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {page_count} >>",
            kids.join(" ")
        )
        .into_bytes(),
    );
    objects.push(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_vec(),
    );
    for (i, lines) in pages.iter().enumerate() {
        let mut stream = b"BT /F1 12 Tf 14 TL 56 780 Td\n".to_vec();
        for line in lines {
            stream.push(b'(');
            for c in line.chars() {
                let byte = u32::from(c);
                match c {
                    '(' | ')' | '\\' => {
                        stream.push(b'\\');
                        stream.push(byte as u8);
                    }
                    _ if (0x20..0x7f).contains(&byte) || (0xa0..=0xff).contains(&byte) => {
                        stream.push(byte as u8)
                    }
                    _ => stream.push(b'?'),
                }
            }
            stream.extend_from_slice(b") Tj T*\n");
        }
        stream.extend_from_slice(b"ET");
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * i
            )
            .into_bytes(),
        );
        let mut content = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
        content.extend_from_slice(&stream);
        content.extend_from_slice(b"\nendstream");
        objects.push(content);
    }
    pdf_of_objects(&objects)
}

/// A PDF of the given objects (numbered from 1, the first the catalog), with an exact
/// cross-reference table: the frame of [`write_text_pdf`], and of the hand-made hostile files
/// the tests archive.
pub fn pdf_of_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_layer_of_each_page_is_read() {
        let pdf = write_text_pdf(&[
            vec![
                "Objet : demande de remise gracieuse".into(),
                "Madame, Monsieur,".into(),
            ],
            vec!["Je vous prie d'agréer mes salutations.".into()],
        ]);
        let pages = page_texts(&pdf).unwrap();
        assert_eq!(pages.len(), 2);
        assert!(pages[0].contains("remise gracieuse"), "{pages:?}");
        assert!(pages[1].contains("agréer"), "{pages:?}");
        assert!(has_text_layer(&pages));
    }

    #[test]
    fn blank_pages_have_no_text_layer_and_garbage_is_an_error() {
        let pdf = write_text_pdf(&[vec![], vec!["3".into()]]);
        let pages = page_texts(&pdf).unwrap();
        assert!(!has_text_layer(&pages));
        assert!(page_texts(b"%PDF-1.4\nnot really").is_err());
    }
}
