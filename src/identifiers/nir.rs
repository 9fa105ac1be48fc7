//! The NIR ("numéro de sécurité sociale"): 13 characters and a 2-digit control key.

use std::fmt;

use super::{IdentifierError, strip_separators};

/// A French social-security number (NIR) whose control key has been checked.
///
/// Canonical form: 15 characters, upper case, no separators (`185057800608491`, or with a
/// Corsican department `2A`/`2B` in positions 6–7). Its `Debug` form is masked so that a NIR
/// never reaches a log by accident.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nir(String);

impl Nir {
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let canonical = strip_separators(input).to_ascii_uppercase();
        if canonical.len() != 15 || !canonical.is_ascii() {
            return Err(IdentifierError(
                "a NIR has 15 characters: 13 for the person and a 2-digit key".into(),
            ));
        }
        let (body, key) = canonical.split_at(13);
        let department = &body[5..7];
        let body_is_well_formed = body
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || ((5..7).contains(&i) && matches!(c, 'A' | 'B')));
        if !body_is_well_formed
            || !key.bytes().all(|b| b.is_ascii_digit())
            || (department.contains(['A', 'B']) && department != "2A" && department != "2B")
        {
            return Err(IdentifierError(
                "a NIR holds only digits, except the Corsican departments 2A and 2B".into(),
            ));
        }
        if !matches!(body.as_bytes()[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
            return Err(IdentifierError(
                "a NIR starts with 1, 2, 3, 4, 7 or 8 (the sex digit)".into(),
            ));
        }
        // Corsica: 2A and 2B count as 19 and 18 in the key computation.
        let numeric_body: u64 = body
            .replace("2A", "19")
            .replace("2B", "18")
            .parse()
            .map_err(|_| IdentifierError("a NIR holds only digits".into()))?;
        let expected_key = 97 - numeric_body % 97;
        let given_key: u64 = key.parse().expect("two ascii digits");
        if given_key != expected_key {
            return Err(IdentifierError(format!(
                "the NIR control key is wrong (expected {expected_key:02})"
            )));
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The grouped form people read: `1 85 05 78 006 084 91`.
    pub fn formatted(&self) -> String {
        let s = &self.0;
        format!(
            "{} {} {} {} {} {} {}",
            &s[0..1],
            &s[1..3],
            &s[3..5],
            &s[5..7],
            &s[7..10],
            &s[10..13],
            &s[13..15]
        )
    }
}

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nir(***{})", &self.0[13..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_numbers_with_separators() {
        let nir = Nir::parse("1 85 05 78 006 084 91").unwrap();
        assert_eq!(nir.as_str(), "185057800608491");
        assert_eq!(nir.formatted(), "1 85 05 78 006 084 91");
        assert!(Nir::parse("292037512345636").is_ok());
    }

    #[test]
    fn corsican_departments_count_as_19_and_18() {
        assert_eq!(
            Nir::parse("170052a12345689").unwrap().as_str(),
            "170052A12345689"
        );
        // The same digits with 2B need another key.
        assert!(Nir::parse("170052B12345689").is_err());
        assert!(Nir::parse("170052C12345689").is_err());
    }

    #[test]
    fn refuses_a_wrong_key_and_says_which_is_expected() {
        let error = Nir::parse("185057800608490").unwrap_err();
        assert!(error.0.contains("expected 91"), "{error}");
    }

    #[test]
    fn refuses_wrong_lengths_and_letters() {
        assert!(Nir::parse("18505780060849").is_err());
        assert!(Nir::parse("1850578006084911").is_err());
        assert!(Nir::parse("1850X7800608491").is_err());
        assert!(Nir::parse("585057800608491").is_err());
        assert!(Nir::parse("").is_err());
        assert!(Nir::parse("é85057800608491").is_err());
    }

    #[test]
    fn debug_form_never_shows_the_number() {
        let nir = Nir::parse("185057800608491").unwrap();
        assert_eq!(format!("{nir:?}"), "Nir(***91)");
    }
}
