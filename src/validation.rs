//! Field-level validation errors: what every refusal of bad input carries back to the caller.

use serde::{Deserialize, Serialize};

/// One refused field: the path of the field in the caller's input (`individuals[0].nir`) and
/// the reason, written for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every error found in one input, reported at once so a caller fixes them in one round.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("{} invalid field(s), first: {}", .0.len(), .0.first().map(|e| e.field.as_str()).unwrap_or(""))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was refused.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// A code (source, document type, tenant, batch reference): letters, digits and `_.:-`, not
/// starting with a punctuation mark, 64 characters at most. The same rule as the `code`
/// definition of the published JSON Schemas.
pub fn is_code(input: &str) -> bool {
    !input.is_empty()
        && input.len() <= 64
        && input.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'_' | b'.' | b':' | b'-'))
        })
}

/// The text without its surrounding blanks, or `None` when nothing is left: an optional name or
/// title given as spaces is no name at all.
pub fn trimmed(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}
