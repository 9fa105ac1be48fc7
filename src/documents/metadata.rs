//! Validation of the metadata a caller sends with a document.
//!
//! Two passes: the published JSON Schema (`schema/document-metadata.schema.json`) checks the
//! shape, then typed parsing checks what a schema cannot (NIR keys, SIREN/SIRET check digits,
//! real dates, a SIRET belonging to its SIREN). Every error is collected, each naming its field.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use serde::Deserialize;
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime};

use super::model::{Channel, Direction, DocumentMetadata};
use crate::dates::{parse_date, parse_timestamp};
use crate::dossiers::input::{DossierLinkInput, validate_links};
use crate::parties::input::{
    CompanyInput, IndividualInput, validate_companies, validate_individuals,
};
use crate::validation::{ValidationErrors, trimmed};

/// The published schema, compiled once.
pub const METADATA_SCHEMA: &str = include_str!("../../schema/document-metadata.schema.json");

static METADATA_VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(METADATA_SCHEMA).expect("the metadata schema is JSON");
    jsonschema::validator_for(&schema).expect("the metadata schema is a valid JSON Schema")
});

/// Oldest document date accepted: older dates are typing errors in practice.
const EARLIEST_DOCUMENT_DATE: Date = time::macros::date!(1900 - 01 - 01);
/// Outbound letters may carry a date a few weeks ahead (print runs are prepared in advance).
const DOCUMENT_DATE_LEAD: Duration = Duration::days(31);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataInput {
    // Required fields are optional here so that a missing one does not hide the other errors:
    // the schema has already reported it.
    direction: Option<String>,
    channel: Option<String>,
    source: Option<String>,
    document_type: Option<String>,
    document_date: Option<String>,
    received_at: Option<String>,
    sent_at: Option<String>,
    title: Option<String>,
    agent: Option<String>,
    recipient: Option<String>,
    #[serde(default)]
    sensitive: bool,
    external_id: Option<String>,
    #[serde(default)]
    individuals: Vec<IndividualInput>,
    #[serde(default)]
    companies: Vec<CompanyInput>,
    #[serde(default)]
    dossiers: Vec<DossierLinkInput>,
}

/// Parses and validates metadata sent as JSON text.
pub fn parse_metadata_json(text: &str) -> Result<DocumentMetadata, ValidationErrors> {
    let value: Value = crate::json::from_str(text)
        .map_err(|e| ValidationErrors::single("metadata", format!("is not valid JSON: {e}")))?;
    parse_metadata(&value)
}

/// Validates metadata already parsed as JSON.
pub fn parse_metadata(value: &Value) -> Result<DocumentMetadata, ValidationErrors> {
    let mut errors = schema_errors(value);
    // Shape errors do not stop the typed checks when the input still deserialises, so that a
    // caller hears about a bad NIR key and a missing title in the same answer.
    let input: MetadataInput = match serde_json::from_value(value.clone()) {
        Ok(input) => input,
        Err(e) if errors.is_empty() => {
            return Err(ValidationErrors::single("metadata", e.to_string()));
        }
        Err(_) => return Err(errors),
    };
    match validate(input) {
        Ok(metadata) => errors.into_result(metadata),
        Err(typed) => {
            for error in typed.0 {
                if !errors.0.iter().any(|known| known.field == error.field) {
                    errors.0.push(error);
                }
            }
            Err(errors)
        }
    }
}

fn schema_errors(value: &Value) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    control_character_errors(value, "", &mut errors);
    for error in METADATA_VALIDATOR.iter_errors(value) {
        let path = field_path(error.instance_path().as_str());
        let (field, message) = match error.kind() {
            ValidationErrorKind::Required { property } => (
                join_field(&path, property.as_str().unwrap_or_default()),
                "is required".to_string(),
            ),
            ValidationErrorKind::AdditionalProperties { unexpected } => (
                join_field(&path, &unexpected.join(", ")),
                "is not a known field".to_string(),
            ),
            ValidationErrorKind::AnyOf { .. } if path.starts_with("individuals[") => (
                path,
                "needs at least one reference: nir or client_number".to_string(),
            ),
            ValidationErrorKind::AnyOf { .. } if path.starts_with("companies[") => (
                path,
                "needs at least one reference: siren, siret or company_number".to_string(),
            ),
            ValidationErrorKind::OneOfNotValid { .. } if path.starts_with("dossiers[") => (
                path,
                "must be a dossier reference (letters, digits and _.:-, 64 at most) or an \
                 object {reference, create, kind: request|complaint|internal, category}"
                    .to_string(),
            ),
            // The library's message quotes the offending value, which is the caller's own input.
            _ => (path, error.to_string()),
        };
        errors.push(field, message);
    }
    errors
}

/// Refuses control characters (but tab and line breaks) in every string: they are never part
/// of a name or a title, and the catalogs would not keep them alike (PostgreSQL refuses NUL).
fn control_character_errors(value: &Value, field: &str, errors: &mut ValidationErrors) {
    match value {
        Value::String(text) => {
            if let Some(found) = text
                .chars()
                .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
            {
                errors.push(
                    field,
                    format!("contains a control character (U+{:04X})", u32::from(found)),
                );
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                control_character_errors(item, &format!("{field}[{index}]"), errors);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                control_character_errors(member, &join_field(field, name), errors);
            }
        }
        _ => {}
    }
}

/// `/individuals/0/nir` → `individuals[0].nir`.
fn field_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
    }
    path
}

fn join_field(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

fn validate(input: MetadataInput) -> Result<DocumentMetadata, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let today = OffsetDateTime::now_utc().date();

    let mut required = |field: &str, value: Option<String>| {
        if value.is_none() {
            errors.push(field, "is required");
        }
        value.unwrap_or_default()
    };
    let direction = required("direction", input.direction);
    let channel = required("channel", input.channel);
    let source = required("source", input.source);
    let document_type = required("document_type", input.document_type);
    let document_date = required("document_date", input.document_date);
    let direction = Direction::parse(&direction);
    let channel = Channel::parse(&channel);
    if direction.is_none() {
        errors.push("direction", "must be inbound or outbound");
    }
    if channel.is_none() {
        errors.push("channel", "must be postal, email, fax, web or counter");
    }

    let document_date = match parse_date(&document_date) {
        Ok(date) if date < EARLIEST_DOCUMENT_DATE => {
            errors.push("document_date", "is before 1900");
            None
        }
        Ok(date) if date > today + DOCUMENT_DATE_LEAD => {
            errors.push("document_date", "is more than 31 days in the future");
            None
        }
        Ok(date) => Some(date),
        Err(message) => {
            errors.push("document_date", message);
            None
        }
    };
    let mut timestamp = |field: &str, value: Option<String>| {
        value.and_then(|text| {
            parse_timestamp(&text)
                .map_err(|message| errors.push(field, message))
                .ok()
        })
    };
    let received_at = timestamp("received_at", input.received_at);
    let sent_at = timestamp("sent_at", input.sent_at);

    let individuals = validate_individuals(input.individuals, today, &mut errors);
    let companies = validate_companies(input.companies, &mut errors);

    let dossiers = validate_links(input.dossiers, &mut errors);

    // A blank external id would silently turn idempotency off: a retry would archive twice.
    let external_id = trimmed(input.external_id.clone());
    if input.external_id.is_some() && external_id.is_none() {
        errors.push("external_id", "is blank");
    }
    let (Some(direction), Some(channel)) = (direction, channel) else {
        return Err(errors);
    };
    let metadata = DocumentMetadata {
        direction,
        channel,
        source,
        document_type,
        document_date: document_date.unwrap_or(EARLIEST_DOCUMENT_DATE),
        received_at,
        sent_at,
        title: trimmed(input.title),
        agent: trimmed(input.agent),
        recipient: trimmed(input.recipient),
        sensitive: input.sensitive,
        external_id,
        individuals,
        companies,
        dossiers,
    };
    errors.into_result(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "direction": "inbound",
            "channel": "postal",
            "source": "SCAN-LYON",
            "document_type": "RECLAMATION",
            "document_date": "2024-03-05"
        })
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn accepts_minimal_metadata() {
        let metadata = parse_metadata(&minimal()).unwrap();
        assert_eq!(metadata.direction, Direction::Inbound);
        assert!(!metadata.sensitive);
    }

    #[test]
    fn names_every_missing_and_unknown_field() {
        let errors =
            parse_metadata(&json!({"direction": "sideways", "colour": "red"})).unwrap_err();
        let fields = fields(errors);
        for expected in [
            "direction",
            "colour",
            "channel",
            "source",
            "document_type",
            "document_date",
        ] {
            assert!(
                fields.contains(&expected.to_string()),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn checks_identifiers_beyond_the_schema() {
        let mut value = minimal();
        value["individuals"] = json!([
            {"nir": "1 85 05 78 006 084 91", "last_name": "Lefèvre"},
            {"nir": "185057800608490"},
            {"last_name": "Sans Référence"}
        ]);
        value["companies"] = json!([{"siren": "732829320", "siret": "55203253400018"}]);
        let fields = fields(parse_metadata(&value).unwrap_err());
        assert_eq!(
            fields,
            vec!["individuals[2]", "individuals[1].nir", "companies[0].siret"],
        );
    }

    #[test]
    fn a_siret_alone_implies_its_siren() {
        let mut value = minimal();
        value["companies"] = json!([{"siret": "732 829 320 00074"}]);
        let metadata = parse_metadata(&value).unwrap();
        assert_eq!(
            metadata.companies[0].siren.as_ref().unwrap().as_str(),
            "732829320"
        );
    }

    #[test]
    fn refuses_impossible_and_far_future_dates() {
        let mut value = minimal();
        value["document_date"] = json!("2023-02-30");
        assert_eq!(
            fields(parse_metadata(&value).unwrap_err()),
            vec!["document_date"]
        );
        value["document_date"] = json!("2999-01-01");
        assert_eq!(
            fields(parse_metadata(&value).unwrap_err()),
            vec!["document_date"]
        );
    }
}
