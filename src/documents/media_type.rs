//! Deciding what a file is: its magic bytes first, then what its name and the declared
//! Content-Type claim; any disagreement is refused rather than guessed around.
//!
//! The archive accepts what mail rooms produce: scans (PDF, TIFF, JPEG, PNG), letters (PDF),
//! emails (`.eml`) and plain text. Anything else is refused: an archive that keeps files its
//! viewers cannot open is no archive.

/// The media types the archive accepts.
pub const ACCEPTED_MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/tiff",
    "image/jpeg",
    "image/png",
    "message/rfc822",
    "text/plain",
];

/// How many leading bytes of a file the detection reads.
pub const SNIFF_LENGTH: usize = 8192;

/// Why a file's type was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaTypeError {
    /// The content is of a type the archive does not keep (HTTP 415).
    #[error("content of type {0} is not accepted; accepted types: {accepted}", accepted = ACCEPTED_MEDIA_TYPES.join(", "))]
    Unsupported(String),
    /// The file name or declared type says one thing, the bytes another (HTTP 422).
    #[error("{claim} says {claimed} but the content is {actual}")]
    Mismatch {
        claim: &'static str,
        claimed: String,
        actual: String,
    },
}

/// Detects the media type of a file from its first bytes (`head`, up to [`SNIFF_LENGTH`]), its
/// name and the Content-Type its sender declared.
pub fn detect(
    head: &[u8],
    file_name: Option<&str>,
    declared: Option<&str>,
) -> Result<&'static str, MediaTypeError> {
    Sniffed::of(head).detect(file_name, declared)
}

/// What a file's first bytes say of its type, whatever its name: kept instead of the bytes,
/// it decides the type for any name later without reading the file again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The type its magic bytes give, if any.
    magic: Option<&'static str>,
    /// Without magic bytes: whether it reads as text, and starts with a mail header.
    text: bool,
    mail_header: bool,
}

impl Sniffed {
    /// Reads `head`, up to [`SNIFF_LENGTH`] first bytes of a file.
    pub fn of(head: &[u8]) -> Self {
        let magic = infer::get(head).map(|kind| kind.mime_type());
        Self {
            magic,
            text: magic.is_none() && looks_like_text(head),
            mail_header: magic.is_none() && starts_with_mail_header(head),
        }
    }

    /// The file's media type, given its name and the Content-Type its sender declared.
    pub fn detect(
        &self,
        file_name: Option<&str>,
        declared: Option<&str>,
    ) -> Result<&'static str, MediaTypeError> {
        let named = file_name
            .and_then(|name| mime_guess::from_path(name).first())
            .map(|mime| mime.essence_str().to_string());
        let declared = declared
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
            .filter(|value| !value.is_empty() && value != "application/octet-stream");
        let claims = [
            ("the file name", named),
            ("the declared Content-Type", declared),
        ];

        let actual = match self.magic {
            Some(magic) => {
                accepted(magic).ok_or_else(|| MediaTypeError::Unsupported(magic.to_string()))?
            }
            None => self.detect_text(&claims)?,
        };
        for (claim, claimed) in claims {
            if let Some(claimed) = claimed
                && !same_type(&claimed, actual)
            {
                return Err(MediaTypeError::Mismatch {
                    claim,
                    claimed,
                    actual: actual.to_string(),
                });
            }
        }
        Ok(actual)
    }

    /// Files without magic bytes: emails and plain text, told apart by their claims and by
    /// whether the first line looks like a mail header.
    fn detect_text(
        &self,
        claims: &[(&'static str, Option<String>); 2],
    ) -> Result<&'static str, MediaTypeError> {
        // The first claim made (the name, else the declared type) is the one a refusal names.
        let (claim, claimed) = claims
            .iter()
            .find_map(|(claim, claimed)| Some((*claim, claimed.clone()?)))
            .map_or(("the file name", None), |(claim, claimed)| {
                (claim, Some(claimed))
            });
        if !self.text {
            return Err(match claimed {
                Some(claimed) if accepted(&claimed).is_some() => MediaTypeError::Mismatch {
                    claim,
                    claimed,
                    actual: "not a file of that type".into(),
                },
                _ => MediaTypeError::Unsupported("application/octet-stream".into()),
            });
        }
        let is_email =
            claimed.as_deref() == Some("message/rfc822") || (claimed.is_none() && self.mail_header);
        if is_email && !self.mail_header {
            return Err(MediaTypeError::Mismatch {
                claim,
                claimed: "message/rfc822".into(),
                actual: "text without mail headers".into(),
            });
        }
        match claimed.as_deref() {
            None | Some("text/plain" | "message/rfc822") => Ok(if is_email {
                "message/rfc822"
            } else {
                "text/plain"
            }),
            Some(other) if accepted(other).is_some() => Err(MediaTypeError::Mismatch {
                claim,
                claimed: other.to_string(),
                actual: "text".into(),
            }),
            Some(other) => Err(MediaTypeError::Unsupported(other.to_string())),
        }
    }
}

fn accepted(media_type: &str) -> Option<&'static str> {
    ACCEPTED_MEDIA_TYPES
        .iter()
        .copied()
        .find(|accepted| *accepted == media_type)
}

/// Names some systems use for the same types.
fn same_type(claimed: &str, actual: &str) -> bool {
    claimed == actual
        || matches!(
            (claimed, actual),
            ("image/jpg" | "image/pjpeg", "image/jpeg")
                | ("application/x-pdf", "application/pdf")
                | ("text/plain", "message/rfc822")
        )
}

/// Text is valid UTF-8 (a character cut at the end of the sniffed head is fine) or 8-bit text
/// from old mail systems, without NUL bytes.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() || head.iter().all(|b| *b >= 0x09),
    }
}

/// RFC 5322: a header field name is printable ASCII without colon, then a colon.
fn starts_with_mail_header(head: &[u8]) -> bool {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    match first_line.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first_line[..colon].iter().all(|b| (33..=126).contains(b)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const EMAIL: &[u8] = b"From: a@example.org\r\nSubject: test\r\n\r\nbody\r\n";

    #[test]
    fn magic_bytes_decide_and_must_agree_with_the_name() {
        assert_eq!(detect(PDF, Some("lettre.pdf"), None), Ok("application/pdf"));
        assert_eq!(
            detect(PNG, Some("scan.png"), Some("image/png")),
            Ok("image/png")
        );
        assert_eq!(detect(PDF, None, None), Ok("application/pdf"));
        assert!(matches!(
            detect(PNG, Some("lettre.pdf"), None),
            Err(MediaTypeError::Mismatch { .. })
        ));
        assert!(matches!(
            detect(PDF, None, Some("image/tiff")),
            Err(MediaTypeError::Mismatch { .. })
        ));
    }

    #[test]
    fn a_pdf_name_on_text_is_a_mismatch() {
        assert!(matches!(
            detect(b"hello", Some("lettre.pdf"), None),
            Err(MediaTypeError::Mismatch { .. })
        ));
    }

    #[test]
    fn emails_and_text_are_told_apart() {
        assert_eq!(
            detect(EMAIL, Some("message.eml"), None),
            Ok("message/rfc822")
        );
        assert_eq!(detect(EMAIL, None, None), Ok("message/rfc822"));
        assert_eq!(
            detect(b"Bonjour,\nmerci.", Some("note.txt"), None),
            Ok("text/plain")
        );
        assert!(detect(b"no header here", Some("message.eml"), None).is_err());
    }

    #[test]
    fn unknown_binary_and_unaccepted_types_are_unsupported() {
        assert!(matches!(
            detect(b"PK\x03\x04\x14\0\0\0", Some("archive.zip"), None),
            Err(MediaTypeError::Unsupported(_))
        ));
        assert!(matches!(
            detect(b"\0\x01\x02binary", None, None),
            Err(MediaTypeError::Unsupported(_))
        ));
    }
}
