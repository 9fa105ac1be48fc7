//! The SHA-256 content hash, written as 64 lower-case hex digits.

use std::fmt;

use super::IdentifierError;

/// A SHA-256 digest in its canonical lower-case hex form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(input: &str) -> Result<Self, IdentifierError> {
        let canonical = input.trim().to_ascii_lowercase();
        if canonical.len() != 64 || !canonical.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdentifierError(
                "a SHA-256 is 64 hexadecimal characters".into(),
            ));
        }
        Ok(Self(canonical))
    }

    pub fn from_digest(digest: &[u8]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(
            Sha256Hex::parse(upper).unwrap().as_str(),
            upper.to_ascii_lowercase()
        );
        assert!(Sha256Hex::parse("abc").is_err());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_err());
    }
}
