//! Emails: what the archive reads from a `.eml` (RFC 5322 / MIME) at archiving time — the
//! headers that become metadata, the body that becomes searchable text, and the attachments,
//! each archived as a document of its own.
//!
//! Parsing is a best effort that loses nothing: the `.eml` bytes are the document's content as
//! they came, whatever this module makes of them. `mail-parser` decodes RFC 2047 words and
//! charsets and never panics; a message it cannot read at all is archived without headers.

use mail_parser::{Address, MessageParser, MimeHeaders};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::documents::model::{DocumentId, clean_file_name};

/// The headers of an archived email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailHeaders {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `Name <address>` as the message wrote it, its encoded words decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cc: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The Date header, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// An attachment as its email shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentOnDocument {
    pub id: DocumentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub media_type: String,
    pub size: u64,
}

/// What an email holds, read from its bytes.
#[derive(Debug, Default)]
pub struct ParsedEmail {
    pub headers: EmailHeaders,
    /// When the Date header holds a real instant.
    pub sent_at: Option<OffsetDateTime>,
    /// The Date header's calendar day as the sender wrote it (`YYYY-MM-DD`): a letter's date
    /// is the writer's day, not UTC's.
    pub written_date: Option<String>,
    /// The text bodies (HTML ones turned into text), joined.
    pub body: Option<String>,
    pub attachments: Vec<EmailAttachment>,
    /// Attachments past the limit asked of [`parse`], left inside the message.
    pub attachments_left_out: usize,
    /// Set when only the headers were read (too many parts): why.
    pub not_split: Option<String>,
    /// Set when the bytes are not a message: nothing but the raw bytes is kept.
    pub unreadable: Option<String>,
}

/// One attachment's bytes and what the message says about them.
#[derive(Debug)]
pub struct EmailAttachment {
    pub file_name: Option<String>,
    /// The part's declared type (`application/pdf`), when it has one.
    pub declared_media_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Reads an email and at most `max_attachments` of its attachments (counted in message
/// order; the others are counted in `attachments_left_out`). Never fails: what cannot be read
/// is said in `unreadable`.
///
/// `mail-parser` parses without recursing (nested multiparts and attached messages are walked
/// with a stack on the heap; a base64-encoded message inside a part is parsed at most 3 levels
/// deep), but it returns attached messages as nested values, which are dropped recursively:
/// 20,000 nested `message/rfc822` parts overflowed a 2 MiB stack. Every level of attached
/// message is typed `message/…` or is a part of a `multipart/digest`, so a message naming
/// `message` or `digest` more than [`MAX_MESSAGE_MENTIONS`] times is read for its headers only
/// (`not_split` says why), its body and attachments left inside the `.eml`.
pub fn parse(raw: &[u8], max_attachments: usize) -> ParsedEmail {
    if mentions(raw, b"message") + mentions(raw, b"digest") > MAX_MESSAGE_MENTIONS {
        let mut parsed = read(raw, true, 0);
        if parsed.unreadable.is_none() {
            parsed.not_split = Some(format!(
                "the email may nest more than {MAX_MESSAGE_MENTIONS} messages: kept whole, \
                 its headers read, its body and attachments not"
            ));
        }
        return parsed;
    }
    read(raw, false, max_attachments)
}

/// Mentions of `message` and `digest` past which an email is not split (a bound on how deeply
/// its attached messages nest).
pub const MAX_MESSAGE_MENTIONS: usize = 1_000;

/// How many times `word` (lowercase ASCII) appears in `raw`, in any case.
fn mentions(raw: &[u8], word: &[u8]) -> usize {
    raw.windows(word.len())
        .filter(|window| window[0] | 0x20 == word[0] && window.eq_ignore_ascii_case(word))
        .count()
}

/// Reads only the headers of an email (of its first bytes): for messages too large to split.
pub fn parse_headers(raw: &[u8]) -> ParsedEmail {
    read(raw, true, 0)
}

fn read(raw: &[u8], headers_only: bool, max_attachments: usize) -> ParsedEmail {
    let parser = MessageParser::default();
    let parsed = if headers_only {
        parser.parse_headers(raw)
    } else {
        parser.parse(raw)
    };
    let Some(message) = parsed else {
        return ParsedEmail {
            unreadable: Some("no RFC 5322 header could be read".into()),
            ..ParsedEmail::default()
        };
    };
    let sent_at = message
        .date()
        .filter(|date| date.is_valid())
        .and_then(|date| OffsetDateTime::from_unix_timestamp(date.to_timestamp()).ok())
        .filter(|instant| (1900..=2100).contains(&instant.year()));
    let written_date = message
        .date()
        .filter(|date| sent_at.is_some() && date.is_valid())
        .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day));
    let headers = EmailHeaders {
        message_id: message.message_id().map(without_nul),
        from: message
            .from()
            .and_then(|from| addresses(from).into_iter().next()),
        to: message.to().map(addresses).unwrap_or_default(),
        cc: message.cc().map(addresses).unwrap_or_default(),
        subject: message
            .subject()
            .map(|subject| without_nul(subject.trim()))
            .filter(|subject| !subject.is_empty()),
        date: sent_at.map(crate::dates::format_timestamp),
    };
    let mut bodies = Vec::new();
    for index in 0..message.text_body_count() {
        if let Some(text) = message.body_text(index) {
            let text = text.trim();
            if !text.is_empty() {
                bodies.push(text.to_string());
            }
        }
    }
    let mut attachments_left_out = 0;
    let attachments = message
        .attachments()
        .filter(|part| !part.contents().is_empty())
        .enumerate()
        .filter_map(|(position, part)| {
            // The parts past the limit are counted, never copied.
            if position >= max_attachments {
                attachments_left_out += 1;
                return None;
            }
            Some(part)
        })
        .map(|part| EmailAttachment {
            file_name: part.attachment_name().and_then(clean_file_name),
            declared_media_type: part.content_type().map(|content_type| {
                match &content_type.c_subtype {
                    Some(subtype) => format!("{}/{}", content_type.c_type, subtype),
                    None => content_type.c_type.to_string(),
                }
                .to_ascii_lowercase()
            }),
            bytes: part.contents().to_vec(),
        })
        .collect();
    ParsedEmail {
        headers,
        sent_at,
        written_date,
        body: (!bodies.is_empty()).then(|| bodies.join("\n\n")),
        attachments,
        attachments_left_out,
        not_split: None,
        unreadable: None,
    }
}

fn addresses(address: &Address<'_>) -> Vec<String> {
    address
        .iter()
        .filter_map(|addr| match (&addr.name, &addr.address) {
            (Some(name), Some(email)) => Some(format!("{} <{email}>", name.trim())),
            (None, Some(email)) => Some(email.to_string()),
            (Some(name), None) => Some(name.trim().to_string()),
            (None, None) => None,
        })
        .map(|address| without_nul(&address))
        .collect()
}

/// A header as the catalog keeps it: an encoded word may decode to NUL, which no text column
/// takes (PostgreSQL refuses it) and no reader needs.
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = "From: =?UTF-8?Q?Ren=C3=A9e_Lef=C3=A8vre?= <renee@example.fr>\r\n\
To: accueil@caf.example, \"Service FSL\" <fsl@caf.example>\r\n\
Cc: copie@example.fr\r\n\
Subject: =?ISO-8859-1?Q?R=E9clamation_facture_d'=E9t=E9?=\r\n\
Date: Tue, 5 Mar 2024 09:30:00 +0100\r\n\
Message-ID: <abc@example.fr>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Bonjour, je conteste la <b>facture</b> d'été.</p>\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"facture.pdf\"\r\n\
Content-Disposition: attachment; filename=\"../facture.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1--\r\n";

    #[test]
    fn headers_body_and_attachments_are_read() {
        let parsed = parse(MESSAGE.as_bytes(), 100);
        assert_eq!(parsed.unreadable, None);
        assert_eq!(
            parsed.headers.from.as_deref(),
            Some("Renée Lefèvre <renee@example.fr>")
        );
        assert_eq!(
            parsed.headers.to,
            ["accueil@caf.example", "Service FSL <fsl@caf.example>"]
        );
        assert_eq!(parsed.headers.cc, ["copie@example.fr"]);
        assert_eq!(
            parsed.headers.subject.as_deref(),
            Some("Réclamation facture d'été")
        );
        assert_eq!(parsed.headers.message_id.as_deref(), Some("abc@example.fr"));
        assert_eq!(parsed.written_date.as_deref(), Some("2024-03-05"));
        assert_eq!(
            parsed.headers.date.as_deref(),
            Some("2024-03-05T08:30:00.000000Z")
        );
        let body = parsed.body.unwrap();
        assert!(body.contains("je conteste la facture d'été"), "{body}");
        assert!(!body.contains("<b>"), "{body}");
        assert_eq!(parsed.attachments.len(), 1);
        let attachment = &parsed.attachments[0];
        assert_eq!(attachment.file_name.as_deref(), Some("facture.pdf"));
        assert_eq!(
            attachment.declared_media_type.as_deref(),
            Some("application/pdf")
        );
        assert_eq!(attachment.bytes, b"%PDF-1.4\n");
    }

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        let parsed = parse(b"", 100);
        assert!(parsed.unreadable.is_some());
        let parsed = parse(&[0xff, 0xfe, 0x00, 0x01, b'\n', b'\n', 0x80], 100);
        assert_eq!(parsed.attachments.len(), 0);
    }

    #[test]
    fn attachments_past_the_limit_are_counted_not_copied() {
        let parsed = parse(MESSAGE.as_bytes(), 0);
        assert_eq!(parsed.attachments.len(), 0);
        assert_eq!(parsed.attachments_left_out, 1);
        assert!(parsed.body.is_some());
    }

    #[test]
    fn deeply_nested_messages_are_read_for_their_headers_only() {
        // Attached messages nest as values dropped recursively: past MAX_MESSAGE_MENTIONS
        // levels only the headers are read. Below it, the nesting is read whole on a test
        // thread's stack (2 MiB, as tokio's blocking threads).
        for (depth, split) in [(MAX_MESSAGE_MENTIONS - 10, true), (20_000, false)] {
            let nested = "Subject: s\r\nContent-Type: message/rfc822\r\n\r\n".repeat(depth)
                + "Subject: fond\r\n\r\nfond\r\n";
            let parsed = parse(nested.as_bytes(), 100);
            assert_eq!(parsed.unreadable, None);
            assert_eq!(parsed.headers.subject.as_deref(), Some("s"));
            assert_eq!(parsed.not_split.is_none(), split, "{depth}");
        }
        // Multiparts nest as flat parts: many levels are read whole.
        let mut multipart = String::from("Subject: s\r\n");
        for level in 0..5_000 {
            multipart.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
            ));
        }
        multipart.push_str("Content-Type: text/plain\r\n\r\nfond\r\n");
        let parsed = parse(multipart.as_bytes(), 100);
        assert_eq!(parsed.unreadable, None);
        assert_eq!(parsed.not_split, None);
    }
}
