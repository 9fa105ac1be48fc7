//! How the UI writes identifiers and dates for French readers.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dates::parse_date;

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
            date.day(),
            MONTHS[usize::from(u8::from(date.month())) - 1],
            date.year()
        ),
        Err(_) => text.to_string(),
    }
}

/// An RFC 3339 instant → `7 mars 2024, 08:30 UTC`.
pub fn instant(text: &str) -> String {
    match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => format!(
            "{} {} {}, {:02}:{:02} UTC",
            at.day(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_dates_read_the_french_way() {
        assert_eq!(nir("185057800608491"), "1 85 05 78 006 084 91");
        assert_eq!(nir("170052A12345689"), "1 70 05 2A 123 456 89");
        assert_eq!(siren_or_siret("732829320"), "732 829 320");
        assert_eq!(siren_or_siret("73282932000074"), "732 829 320 00074");
        assert_eq!(date("2024-03-05"), "5 mars 2024");
        assert_eq!(
            instant("2024-03-07T08:30:00.000000Z"),
            "7 mars 2024, 08:30 UTC"
        );
    }
}
