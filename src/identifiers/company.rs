//! SIREN (a legal unit, 9 digits) and SIRET (one of its establishments, 14 digits).

use std::fmt;

use super::{IdentifierError, luhn_valid, strip_separators};

/// La Poste's SIREN: its SIRETs are too many for the Luhn key, so they follow another rule.
const LA_POSTE_SIREN: &str = "356000000";

/// A SIREN number whose Luhn key has been checked. Canonical form: 9 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Siren(String);

/// A SIRET number (SIREN + 5-digit NIC) whose key has been checked. Canonical form: 14 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Siret(String);

fn digits_of_length(input: &str, length: usize, what: &str) -> Result<String, IdentifierError> {
    let canonical = strip_separators(input);
    if canonical.len() != length || !canonical.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentifierError(format!(
            "a {what} has exactly {length} digits"
        )));
    }
    Ok(canonical)
}

impl Siren {
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let canonical = digits_of_length(input, 9, "SIREN")?;
        if !luhn_valid(&canonical) {
            return Err(IdentifierError("the SIREN check digit is wrong".into()));
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The grouped form people read: `732 829 320`.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[0..3], &self.0[3..6], &self.0[6..9])
    }
}

impl Siret {
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let canonical = digits_of_length(input, 14, "SIRET")?;
        let valid = if canonical.starts_with(LA_POSTE_SIREN) {
            let digit_sum: u32 = canonical.bytes().map(|b| u32::from(b - b'0')).sum();
            digit_sum.is_multiple_of(5)
        } else {
            luhn_valid(&canonical)
        };
        if !valid {
            return Err(IdentifierError("the SIRET check digit is wrong".into()));
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The legal unit this establishment belongs to: a SIRET implies its SIREN.
    pub fn siren(&self) -> Siren {
        Siren(self.0[..9].to_string())
    }

    /// The grouped form people read: `732 829 320 00074`.
    pub fn formatted(&self) -> String {
        format!("{} {}", self.siren().formatted(), &self.0[9..])
    }
}

impl fmt::Display for Siren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siren_luhn() {
        assert_eq!(Siren::parse("732 829 320").unwrap().as_str(), "732829320");
        assert_eq!(
            Siren::parse("552.032.534").unwrap().formatted(),
            "552 032 534"
        );
        assert!(Siren::parse("732829321").is_err());
        assert!(Siren::parse("73282932").is_err());
        assert!(Siren::parse("73282932a").is_err());
    }

    #[test]
    fn siret_luhn_and_its_siren() {
        let siret = Siret::parse("732 829 320 00074").unwrap();
        assert_eq!(siret.siren().as_str(), "732829320");
        assert_eq!(siret.formatted(), "732 829 320 00074");
        assert!(Siret::parse("73282932000075").is_err());
    }

    #[test]
    fn la_poste_sirets_use_the_digit_sum_rule() {
        // 3+5+6+1 = 15, a multiple of 5, although the Luhn sum is not a multiple of 10.
        assert!(Siret::parse("35600000000010").is_ok());
        assert!(!luhn_valid("35600000000010"));
        assert!(Siret::parse("35600000000011").is_err());
    }
}
