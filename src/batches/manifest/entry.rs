//! What both formats share once a document is read: the batch header's checks, and one
//! document's fields turned into a validated entry (content fields taken out, the batch's
//! defaults applied, the rest validated as document metadata).

use serde_json::{Map, Value};

use super::{BatchHeader, Manifest, ManifestEntry};
use crate::dates::parse_timestamp;
use crate::documents::metadata::parse_metadata;
use crate::identifiers::Sha256Hex;
use crate::validation::{FieldError, ValidationErrors, is_code};

/// Longest file name a manifest may give (the path inside the batch folder).
const MAX_FILE_NAME: usize = 255;

/// The manifest, unless it names no document.
pub(super) fn finish(
    header: BatchHeader,
    entries: Vec<ManifestEntry>,
) -> Result<Manifest, ValidationErrors> {
    if entries.is_empty() {
        return Err(ValidationErrors::single(
            "documents",
            "is empty: a batch has at least one document",
        ));
    }
    Ok(Manifest { header, entries })
}

/// Checks the batch's own fields; every error is reported at once.
pub(super) fn header(
    batch_ref: Option<String>,
    source: Option<String>,
    scanned_at: Option<String>,
) -> Result<BatchHeader, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut code = |field: &str, value: Option<String>| match value {
        Some(value) if is_code(&value) => value,
        Some(_) => {
            errors.push(
                field,
                "must be a code of letters, digits and _.:- (64 at most)",
            );
            String::new()
        }
        None => {
            errors.push(field, "is required");
            String::new()
        }
    };
    let batch_ref = code("batch_ref", batch_ref);
    let source = code("source", source);
    let scanned_at = match scanned_at.as_deref().map(parse_timestamp) {
        Some(Ok(instant)) => Some(instant),
        Some(Err(message)) => {
            errors.push("scanned_at", message);
            None
        }
        None => {
            errors.push("scanned_at", "is required");
            None
        }
    };
    match scanned_at {
        Some(scanned_at) if errors.is_empty() => Ok(BatchHeader {
            batch_ref,
            source,
            scanned_at,
        }),
        _ => Err(errors),
    }
}

/// Takes the content fields out of one document's fields, applies the batch's defaults to
/// the rest and validates it as document metadata.
pub(super) fn entry(
    header: &BatchHeader,
    position: usize,
    line: Option<usize>,
    mut fields: Map<String, Value>,
) -> ManifestEntry {
    let mut errors = Vec::new();
    let file = take_file(&mut fields, &mut errors);
    let sha256 = take_sha256(&mut fields, &mut errors);
    let size = take_size(&mut fields, &mut errors);
    apply_batch_defaults(header, sha256.as_ref(), &mut fields, &mut errors);
    let value = Value::Object(fields);
    let external_id = match parse_metadata(&value) {
        Ok(parsed) => parsed.external_id,
        Err(metadata_errors) => {
            errors.extend(metadata_errors.0);
            None
        }
    };
    let metadata = if errors.is_empty() {
        Ok(value.to_string())
    } else {
        Err(errors)
    };
    ManifestEntry {
        position,
        line,
        file,
        sha256,
        size,
        external_id,
        metadata,
    }
}

/// The file's path, kept even when refused so that the report can name it.
fn take_file(fields: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> String {
    match fields.remove("file") {
        Some(Value::String(file)) => {
            if let Err(message) = check_file_name(&file) {
                errors.push(FieldError::new("file", message));
            }
            file
        }
        Some(_) => {
            errors.push(FieldError::new("file", "must be a string"));
            String::new()
        }
        None => {
            errors.push(FieldError::new("file", "is required"));
            String::new()
        }
    }
}

fn take_sha256(fields: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Sha256Hex> {
    match fields.remove("sha256") {
        Some(Value::String(text)) => Sha256Hex::parse(&text)
            .map_err(|e| errors.push(FieldError::new("sha256", e.0)))
            .ok(),
        Some(_) => {
            errors.push(FieldError::new("sha256", "must be a string"));
            None
        }
        None => {
            errors.push(FieldError::new("sha256", "is required"));
            None
        }
    }
}

fn take_size(fields: &mut Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<u64> {
    match fields.remove("size") {
        Some(Value::Number(number)) => match number.as_u64() {
            Some(size) if size > 0 => Some(size),
            _ => {
                errors.push(FieldError::new(
                    "size",
                    "must be a positive number of bytes",
                ));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new("size", "must be a number of bytes"));
            None
        }
        None => {
            errors.push(FieldError::new("size", "is required"));
            None
        }
    }
}

/// Fills what a scanning centre's batch implies: its source (a document may repeat it, not
/// contradict it), inbound post received when scanned, and the content as the external id.
fn apply_batch_defaults(
    header: &BatchHeader,
    sha256: Option<&Sha256Hex>,
    fields: &mut Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    match fields.get("source") {
        Some(Value::String(source)) if *source == header.source => {}
        Some(_) => errors.push(FieldError::new(
            "source",
            format!(
                "must be the batch's source {} (or be left out)",
                header.source
            ),
        )),
        None => {
            fields.insert("source".into(), Value::String(header.source.clone()));
        }
    }
    fields
        .entry("direction")
        .or_insert_with(|| Value::String("inbound".into()));
    fields
        .entry("channel")
        .or_insert_with(|| Value::String("postal".into()));
    fields
        .entry("received_at")
        .or_insert_with(|| Value::String(crate::dates::format_timestamp(header.scanned_at)));
    // A scan's bytes are never produced twice: its content names the document, so a file
    // sent again, in this batch or another, is archived once.
    if !fields.contains_key("external_id")
        && let Some(sha256) = sha256
    {
        fields.insert(
            "external_id".into(),
            Value::String(format!("sha256:{sha256}")),
        );
    }
}

/// A path inside the batch folder: relative, `/`-separated, without `.` or `..` steps.
fn check_file_name(file: &str) -> Result<(), &'static str> {
    if file.is_empty() {
        return Err("is empty");
    }
    if file.chars().count() > MAX_FILE_NAME {
        return Err("is longer than 255 characters");
    }
    if file.chars().any(char::is_control) || file.contains('\\') {
        return Err("must not hold control characters or backslashes (use / between folders)");
    }
    let only_names = std::path::Path::new(file)
        .components()
        .all(|step| matches!(step, std::path::Component::Normal(_)));
    if !only_names
        || file.contains(':')
        || file
            .split('/')
            .any(|step| step.is_empty() || step == "." || step == "..")
    {
        return Err(
            "must be a relative path inside the batch folder, without . or .. steps or a drive",
        );
    }
    Ok(())
}
