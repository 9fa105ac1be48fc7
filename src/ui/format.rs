//! How the UI writes identifiers and dates for French readers.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::dates::parse_date;
use crate::extraction::{TextMethod, TextState, TextStatus};

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// What a URL path segment may carry as is (RFC 3986 unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value (a client number, a reference) made safe as one segment of a link's path: `/`, `?`,
/// `#` and `%` in it cannot reach another page.
pub fn segment(text: &str) -> String {
    let encoded = utf8_percent_encode(text, SEGMENT).to_string();
    // "." and ".." are path navigation even when encoded as themselves.
    if encoded.is_empty() || encoded.chars().all(|c| c == '.') {
        encoded.replace('.', "%2E")
    } else {
        encoded
    }
}

fn day(day: u8) -> String {
    if day == 1 {
        "1er".to_string()
    } else {
        day.to_string()
    }
}

/// Splits `text` into groups of the given lengths, separated by spaces; the rest as is.
fn grouped(text: &str, lengths: &[usize]) -> String {
    let mut groups = Vec::new();
    let mut rest = text;
    for &length in lengths {
        if rest.len() <= length || !rest.is_char_boundary(length) {
            break;
        }
        let (group, tail) = rest.split_at(length);
        groups.push(group);
        rest = tail;
    }
    groups.push(rest);
    groups.join(" ")
}

/// `185057800608491` → `1 85 05 78 006 084 91`.
pub fn nir(text: &str) -> String {
    grouped(text, &[1, 2, 2, 2, 3, 3])
}

/// `732829320` → `732 829 320`; a SIRET gets its NIC apart: `732 829 320 00074`.
pub fn siren_or_siret(text: &str) -> String {
    grouped(text, &[3, 3, 3])
}

/// `2024-03-05` → `5 mars 2024`.
pub fn date(text: &str) -> String {
    match parse_date(text) {
        Ok(date) => format!(
            "{} {} {}",
            day(date.day()),
            MONTHS[usize::from(u8::from(date.month())) - 1],
            date.year()
        ),
        Err(_) => text.to_string(),
    }
}

/// An RFC 3339 instant → `7 mars 2024, 08:30 UTC`.
pub fn instant(text: &str) -> String {
    match OffsetDateTime::parse(text, &Rfc3339).map(|at| at.to_offset(UtcOffset::UTC)) {
        Ok(at) => format!(
            "{} {} {}, {:02}:{:02} UTC",
            day(at.day()),
            MONTHS[usize::from(u8::from(at.month())) - 1],
            at.year(),
            at.hour(),
            at.minute()
        ),
        Err(_) => text.to_string(),
    }
}

pub fn direction(direction: &str) -> &'static str {
    match direction {
        "inbound" => "Entrant",
        "outbound" => "Sortant",
        _ => "—",
    }
}

pub fn dossier_status(status: &str) -> &'static str {
    match status {
        "open" => "Ouvert",
        "closed" => "Clos",
        "cancelled" => "Annulé",
        _ => "—",
    }
}

pub fn dossier_kind(kind: &str) -> &'static str {
    match kind {
        "request" => "Demande",
        "complaint" => "Réclamation",
        "internal" => "Interne",
        _ => "—",
    }
}

/// Where a document's text stands, in words: "Texte extrait (OCR, 2 pages)".
pub fn text_state(state: &TextState) -> String {
    let method = match state.method {
        Some(TextMethod::Text) => "texte brut",
        Some(TextMethod::Pdf) => "couche texte du PDF",
        Some(TextMethod::Ocr) => "reconnaissance de caractères",
        Some(TextMethod::Email) => "corps du courriel",
        None => "",
    };
    let pages = match state.pages {
        Some(1) => ", 1 page".to_string(),
        Some(pages) if pages > 1 => format!(", {pages} pages"),
        _ => String::new(),
    };
    let reason = state
        .reason
        .as_deref()
        .map(|reason| format!(" : {}", text_reason(reason)))
        .unwrap_or_default();
    match state.status {
        TextStatus::Done => format!("Texte extrait ({method}{pages})"),
        TextStatus::Pending => format!("Extraction du texte en attente{reason}"),
        TextStatus::Failed => format!("Extraction du texte impossible{reason}"),
        TextStatus::Skipped => format!("Pas de texte à extraire{reason}"),
    }
}

/// The reasons the extraction gives (in English, for the API and the logs) as agents read
/// them; a reason not known here is shown as it is, with its detail.
fn text_reason(reason: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("waiting for OCR", "en attente d'un serveur équipé de l'OCR"),
        (
            "the PDF has no text layer",
            "le PDF n'a pas de couche texte, en attente de l'OCR",
        ),
        ("the PDF cannot be read", "le PDF est illisible"),
        (
            "reading the PDF took longer",
            "la lecture du PDF a été trop longue",
        ),
        (
            "no text is read from",
            "ce format ne contient pas de texte lisible",
        ),
        ("the file (", "fichier trop volumineux pour l'extraction"),
        (
            "extraction was cut short",
            "l'extraction a échoué à plusieurs reprises",
        ),
        ("will be tried again", "nouvel essai dans une minute"),
        ("gave up after", "abandon après plusieurs essais"),
        (
            "the email is larger than",
            "courriel trop volumineux : conservé entier, corps et pièces jointes non extraits",
        ),
        (
            "no RFC 5322 header",
            "ce fichier n'est pas un courriel lisible",
        ),
    ];
    KNOWN
        .iter()
        .find(|(prefix, _)| reason.starts_with(prefix))
        .map_or_else(|| reason.to_string(), |(_, french)| (*french).to_string())
}

/// A size in octets, as French users read it ("12,5 Ko").
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["octets", "Ko", "Mo", "Go"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} octets")
    } else {
        format!("{value:.1} {}", UNITS[unit]).replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_states_read_in_french() {
        let state = |status, reason: &str| TextState {
            status,
            method: None,
            pages: None,
            reason: Some(reason.into()),
            finished_at: None,
        };
        assert_eq!(
            text_state(&state(
                TextStatus::Pending,
                "waiting for OCR: Tesseract is not installed (…)"
            )),
            "Extraction du texte en attente : en attente d'un serveur équipé de l'OCR"
        );
        assert_eq!(
            text_state(&state(
                TextStatus::Failed,
                "tesseract failed (exit 1): bad image"
            )),
            "Extraction du texte impossible : tesseract failed (exit 1): bad image"
        );
        let done = TextState {
            status: TextStatus::Done,
            method: Some(TextMethod::Ocr),
            pages: Some(2),
            reason: None,
            finished_at: None,
        };
        assert_eq!(
            text_state(&done),
            "Texte extrait (reconnaissance de caractères, 2 pages)"
        );
        assert_eq!(size(130), "130 octets");
        assert_eq!(size(11_413), "11,1 Ko");
    }

    #[test]
    fn identifiers_and_dates_read_the_french_way() {
        assert_eq!(nir("185057800608491"), "1 85 05 78 006 084 91");
        assert_eq!(nir("170052A12345689"), "1 70 05 2A 123 456 89");
        assert_eq!(siren_or_siret("732829320"), "732 829 320");
        assert_eq!(siren_or_siret("73282932000074"), "732 829 320 00074");
        assert_eq!(date("2024-03-05"), "5 mars 2024");
        assert_eq!(date("2024-03-01"), "1er mars 2024");
        assert_eq!(
            instant("2024-03-07T09:30:00+01:00"),
            "7 mars 2024, 08:30 UTC"
        );
        assert_eq!(segment("C-12/../../api"), "C-12%2F..%2F..%2Fapi");
        assert_eq!(segment("A?b#c%"), "A%3Fb%23c%25");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(
            instant("2024-03-07T08:30:00.000000Z"),
            "7 mars 2024, 08:30 UTC"
        );
    }
}
