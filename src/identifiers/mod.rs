//! Validated identifiers: the French person and company numbers the archive files documents
//! under, and the content hash that names every stored object.
//!
//! Each type is parsed once at the edge (`parse` strips the spaces and dots people type) and
//! holds the canonical form afterwards, so no code past the edge re-checks a string.

mod company;
mod nir;
mod sha256;

pub use company::{Siren, Siret};
pub use nir::Nir;
pub use sha256::Sha256Hex;

/// Why an identifier was refused; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdentifierError(pub String);

/// Removes the separators people write inside identifiers ("1 85 05 78 006 084 91",
/// "732.829.320") so that only the significant characters remain.
fn strip_separators(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.' && *c != '-')
        .collect()
}

/// The Luhn checksum used by SIREN and SIRET numbers, for digit strings.
pub fn luhn_check(digits: &str) -> bool {
    digits.bytes().all(|b| b.is_ascii_digit()) && luhn_valid(digits)
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}
