//! Reading a batch manifest, JSON or CSV, into validated entries.
//!
//! The same code runs on the server (every manifest it receives) and in `ged ingest` (before
//! anything is sent, and for `--dry-run`), so a centre learns of a bad line on its own machine.
//! Documents are validated one at a time and kept as compact text: a 100,000-document
//! manifest never sits in memory as a JSON tree.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::dates::parse_timestamp;
use crate::documents::metadata::parse_metadata;
use crate::documents::model::DocumentMetadata;
use crate::dossiers::input::MAX_LINKS;
use crate::identifiers::Sha256Hex;
use crate::validation::{FieldError, ValidationErrors, is_code};

/// The published schema of JSON manifests (documentation; the server validates each document
/// against the metadata schema after applying the batch's defaults).
pub const MANIFEST_SCHEMA: &str = include_str!("../../schema/batch-manifest.schema.json");

/// Longest file name a manifest may give (the path inside the batch folder).
const MAX_FILE_NAME: usize = 255;

/// How a manifest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Json,
    /// One line per document, `;` or `,` separated, UTF-8; see the README for the columns.
    Csv,
}

/// What a whole batch says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHeader {
    /// The scanning centre's own identifier of the batch, unique per source.
    pub batch_ref: String,
    pub source: String,
    pub scanned_at: OffsetDateTime,
}

/// One document of a manifest, validated as far as the manifest alone allows (the content it
/// names is checked by the server against the store, and by the client against its files).
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    /// Its index in the manifest, from 0.
    pub position: usize,
    /// Its line in a CSV manifest (the header is line 1).
    pub line: Option<usize>,
    /// The file's path inside the batch folder, `/`-separated.
    pub file: String,
    pub sha256: Option<Sha256Hex>,
    pub size: Option<u64>,
    /// The document's external id (given, or the default), when its metadata is valid.
    pub external_id: Option<String>,
    /// The metadata as JSON text with the batch's defaults applied, or why it is refused
    /// (fields relative to the document).
    pub metadata: Result<String, Vec<FieldError>>,
}

impl ManifestEntry {
    /// `documents[3]` or `line[5]`: where the entry is in the manifest as its author wrote it.
    pub fn locator(&self) -> String {
        locator(self.position, self.line)
    }

    /// Validated metadata of an entry whose metadata was accepted.
    pub fn parsed_metadata(&self) -> Option<DocumentMetadata> {
        let text = self.metadata.as_ref().ok()?;
        crate::documents::metadata::parse_metadata_json(text).ok()
    }
}

/// A manifest read whole: its header and every document, good or bad.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub header: BatchHeader,
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Every error of every entry, each field prefixed by the entry's locator.
    pub fn errors(&self) -> ValidationErrors {
        located_errors(
            self.entries
                .iter()
                .map(|entry| (entry.position, entry.line, &entry.metadata)),
        )
    }

    /// A hash of what the manifest asks to archive, independent of its format: the same batch
    /// sent as JSON or as CSV, or sent again, hashes the same.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        let header = &self.header;
        hasher.update(format!(
            "{}\n{}\n{}\n",
            header.batch_ref,
            header.source,
            crate::dates::format_timestamp(header.scanned_at)
        ));
        for entry in &self.entries {
            let metadata = match &entry.metadata {
                Ok(text) => text.clone(),
                Err(errors) => serde_json::to_string(errors).unwrap_or_default(),
            };
            hasher.update(format!(
                "{}\n{}\n{}\n{}\n",
                entry.file,
                entry.sha256.as_ref().map(Sha256Hex::as_str).unwrap_or(""),
                entry.size.unwrap_or(0),
                metadata
            ));
        }
        hex::encode(hasher.finalize())
    }
}

/// `documents[3]` or `line[5]`: where a document is in the manifest as its author wrote it.
pub fn locator(position: usize, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("line[{line}]"),
        None => format!("documents[{position}]"),
    }
}

/// The errors of documents (position, CSV line, outcome), each field prefixed by its locator.
pub fn located_errors<'a, T: 'a>(
    documents: impl Iterator<Item = (usize, Option<usize>, &'a Result<T, Vec<FieldError>>)>,
) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    for (position, line, outcome) in documents {
        let Err(document_errors) = outcome else {
            continue;
        };
        let place = locator(position, line);
        for error in document_errors {
            let field = if error.field.is_empty() {
                place.clone()
            } else {
                format!("{place}.{}", error.field)
            };
            errors.push(field, &error.message);
        }
    }
    errors
}

/// Reads and validates a manifest. `Err` when the batch as a whole cannot be read (not JSON,
/// a header field missing or wrong, no documents, a file named twice); errors of single
/// documents are kept in their entries, to refuse the batch or archive the rest.
pub fn read_manifest(bytes: &[u8], format: ManifestFormat) -> Result<Manifest, ValidationErrors> {
    let manifest = match format {
        ManifestFormat::Json => read_json(bytes)?,
        ManifestFormat::Csv => read_csv(bytes)?,
    };
    check_duplicates(&manifest)?;
    Ok(manifest)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonManifest<'a> {
    batch_ref: Option<String>,
    source: Option<String>,
    scanned_at: Option<String>,
    #[serde(borrow)]
    documents: Option<Vec<&'a RawValue>>,
}

fn read_json(bytes: &[u8]) -> Result<Manifest, ValidationErrors> {
    let input: JsonManifest = serde_json::from_slice(bytes).map_err(|e| {
        ValidationErrors::single("manifest", format!("is not a valid manifest: {e}"))
    })?;
    let header = header(input.batch_ref, input.source, input.scanned_at)?;
    let documents = input
        .documents
        .ok_or_else(|| ValidationErrors::single("documents", "is required"))?;
    let entries = documents
        .iter()
        .enumerate()
        .map(|(position, raw)| {
            let fields = match serde_json::from_str::<Value>(raw.get()) {
                Ok(Value::Object(fields)) => fields,
                _ => Map::new(),
            };
            let is_object = raw.get().trim_start().starts_with('{');
            let mut entry = entry(&header, position, None, fields);
            if !is_object {
                entry.metadata = Err(vec![FieldError::new("", "must be an object")]);
            }
            entry
        })
        .collect::<Vec<_>>();
    finish(header, entries)
}

fn finish(header: BatchHeader, entries: Vec<ManifestEntry>) -> Result<Manifest, ValidationErrors> {
    if entries.is_empty() {
        return Err(ValidationErrors::single(
            "documents",
            "is empty: a batch has at least one document",
        ));
    }
    Ok(Manifest { header, entries })
}

fn header(
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
fn entry(
    header: &BatchHeader,
    position: usize,
    line: Option<usize>,
    mut fields: Map<String, Value>,
) -> ManifestEntry {
    let mut errors = Vec::new();
    let file = match fields.remove("file") {
        Some(Value::String(file)) => match check_file_name(&file) {
            Ok(()) => file,
            Err(message) => {
                errors.push(FieldError::new("file", message));
                file
            }
        },
        Some(_) => {
            errors.push(FieldError::new("file", "must be a string"));
            String::new()
        }
        None => {
            errors.push(FieldError::new("file", "is required"));
            String::new()
        }
    };
    let sha256 = match fields.remove("sha256") {
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
    };
    let size = match fields.remove("size") {
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
    };
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
        && let Some(sha256) = &sha256
    {
        fields.insert(
            "external_id".into(),
            Value::String(format!("sha256:{sha256}")),
        );
    }
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

fn check_duplicates(manifest: &Manifest) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut files = std::collections::HashMap::new();
    for entry in &manifest.entries {
        if entry.file.is_empty() {
            continue;
        }
        if let Some(first) = files.insert(entry.file.as_str(), entry.locator()) {
            errors.push(
                format!("{}.file", entry.locator()),
                format!("names the same file as {first}"),
            );
        }
    }
    let mut external_ids = std::collections::HashMap::new();
    for entry in &manifest.entries {
        if let Some(id) = &entry.external_id
            && let Some(first) = external_ids.insert(id.as_str(), entry.locator())
        {
            errors.push(
                format!("{}.external_id", entry.locator()),
                format!("is the same as that of {first}"),
            );
        }
    }
    errors.into_result(())
}

/// The CSV columns of one document's own fields (besides the party columns).
const CSV_TEXT_COLUMNS: &[&str] = &[
    "direction",
    "channel",
    "document_type",
    "document_date",
    "received_at",
    "sent_at",
    "title",
    "agent",
    "recipient",
    "external_id",
];
const INDIVIDUAL_COLUMNS: &[&str] = &[
    "nir",
    "client_number",
    "last_name",
    "first_name",
    "birth_date",
    "role",
];
const COMPANY_COLUMNS: &[&str] = &["siren", "siret", "company_number", "name", "role"];
const DOSSIER_COLUMNS: &[&str] = &["reference", "create", "kind", "category"];
/// Parties per document a CSV manifest can name, per kind.
const MAX_CSV_PARTIES: usize = 20;

/// Where a CSV column's value goes.
#[derive(Debug, Clone)]
enum CsvColumn {
    BatchRef,
    Source,
    ScannedAt,
    File,
    Sha256,
    Size,
    Sensitive,
    Text(&'static str),
    /// `individualN_field` (N from 1).
    Individual(usize, &'static str),
    Company(usize, &'static str),
    /// `dossierN_field` (N from 1).
    Dossier(usize, &'static str),
}

fn csv_column(name: &str) -> Option<CsvColumn> {
    Some(match name {
        "batch_ref" => CsvColumn::BatchRef,
        "source" => CsvColumn::Source,
        "scanned_at" => CsvColumn::ScannedAt,
        "file" => CsvColumn::File,
        "sha256" => CsvColumn::Sha256,
        "size" => CsvColumn::Size,
        "sensitive" => CsvColumn::Sensitive,
        _ => {
            if let Some(field) = CSV_TEXT_COLUMNS.iter().find(|c| **c == name) {
                return Some(CsvColumn::Text(field));
            }
            for (prefix, fields, most) in [
                ("individual", INDIVIDUAL_COLUMNS, MAX_CSV_PARTIES),
                ("company", COMPANY_COLUMNS, MAX_CSV_PARTIES),
                ("dossier", DOSSIER_COLUMNS, MAX_LINKS),
            ] {
                let Some(rest) = name.strip_prefix(prefix) else {
                    continue;
                };
                let (number, field) = rest.split_once('_')?;
                let number: usize = number.parse().ok()?;
                if !(1..=most).contains(&number) {
                    return None;
                }
                let field = fields.iter().find(|f| **f == field)?;
                return Some(match prefix {
                    "individual" => CsvColumn::Individual(number, field),
                    "company" => CsvColumn::Company(number, field),
                    _ => CsvColumn::Dossier(number, field),
                });
            }
            return None;
        }
    })
}

/// The CSV column a metadata field path came from: `individuals[0].nir` → `individual1_nir`,
/// `dossiers[0]` → `dossier1_reference`.
pub fn csv_field(path: &str) -> String {
    for (list, column) in [
        ("individuals[", "individual"),
        ("companies[", "company"),
        ("dossiers[", "dossier"),
    ] {
        if let Some(rest) = path.strip_prefix(list)
            && let Some((index, field)) = rest.split_once(']')
            && let Ok(index) = index.parse::<usize>()
        {
            let field = match field.trim_start_matches('.') {
                "" if column == "dossier" => "reference",
                field => field,
            };
            return if field.is_empty() {
                format!("{column}{}", index + 1)
            } else {
                format!("{column}{}_{field}", index + 1)
            };
        }
    }
    path.to_string()
}

fn read_csv(bytes: &[u8]) -> Result<Manifest, ValidationErrors> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ValidationErrors::single(
            "manifest",
            format!("is not UTF-8 text (save the CSV as UTF-8): {e}"),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let names = reader
        .headers()
        .map_err(|e| ValidationErrors::single("line[1]", format!("cannot be read: {e}")))?
        .clone();
    let mut errors = ValidationErrors::default();
    let mut columns = Vec::with_capacity(names.len());
    for name in &names {
        match csv_column(name) {
            Some(column) => columns.push(column),
            None => errors.push(
                format!("line[1].{name}"),
                "is not a known column (see the README for the CSV columns)",
            ),
        }
    }
    for required in [
        "batch_ref",
        "source",
        "scanned_at",
        "file",
        "sha256",
        "size",
    ] {
        if !names.iter().any(|name| name == required) {
            errors.push(format!("line[1].{required}"), "is a required column");
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut header_values: [Option<String>; 3] = Default::default();
    let mut rows = Vec::new();
    for (position, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(position + 2, |p| p.line() as usize);
            ValidationErrors::single(format!("line[{line}]"), format!("cannot be read: {e}"))
        })?;
        let line = record
            .position()
            .map_or(position + 2, |p| p.line() as usize);
        let mut fields = Map::new();
        let mut individuals: Vec<Map<String, Value>> = Vec::new();
        let mut companies: Vec<Map<String, Value>> = Vec::new();
        let mut dossiers: Vec<Map<String, Value>> = Vec::new();
        let mut row_errors = Vec::new();
        for (column, value) in columns.iter().zip(record.iter()) {
            if value.is_empty() {
                continue;
            }
            let text = Value::String(value.to_string());
            let header_slot = match column {
                CsvColumn::BatchRef => Some((0, "batch_ref")),
                CsvColumn::Source => Some((1, "source")),
                CsvColumn::ScannedAt => Some((2, "scanned_at")),
                _ => None,
            };
            if let Some((slot, name)) = header_slot {
                match &header_values[slot] {
                    None => header_values[slot] = Some(value.to_string()),
                    Some(first) if first == value => {}
                    Some(first) => errors.push(
                        format!("line[{line}].{name}"),
                        format!("differs from the first line's {first:?}: a manifest is one batch"),
                    ),
                }
                continue;
            }
            match column {
                CsvColumn::File => {
                    fields.insert("file".into(), text);
                }
                CsvColumn::Sha256 => {
                    fields.insert("sha256".into(), text);
                }
                CsvColumn::Size => match value.parse::<u64>() {
                    Ok(size) => {
                        fields.insert("size".into(), Value::from(size));
                    }
                    Err(_) => row_errors.push(FieldError::new("size", "must be a number of bytes")),
                },
                CsvColumn::Sensitive => match yes_no(value) {
                    Some(sensitive) => {
                        fields.insert("sensitive".into(), Value::Bool(sensitive));
                    }
                    None => row_errors.push(FieldError::new(
                        "sensitive",
                        "must be true or false (or oui/non, 1/0)",
                    )),
                },
                CsvColumn::Text(field) => {
                    fields.insert((*field).into(), text);
                }
                CsvColumn::Individual(number, field) => {
                    set_party(&mut individuals, *number, field, text);
                }
                CsvColumn::Company(number, field) => {
                    set_party(&mut companies, *number, field, text);
                }
                CsvColumn::Dossier(number, "create") => match yes_no(value) {
                    Some(create) => set_party(&mut dossiers, *number, "create", create.into()),
                    None => row_errors.push(FieldError::new(
                        format!("dossier{number}_create"),
                        "must be true or false (or oui/non, 1/0)",
                    )),
                },
                CsvColumn::Dossier(number, field) => {
                    set_party(&mut dossiers, *number, field, text);
                }
                CsvColumn::BatchRef | CsvColumn::Source | CsvColumn::ScannedAt => {}
            }
        }
        for (key, parties) in [("individuals", individuals), ("companies", companies)] {
            let parties: Vec<Value> = parties
                .into_iter()
                .filter(|party| !party.is_empty())
                .map(Value::Object)
                .collect();
            if !parties.is_empty() {
                fields.insert(key.into(), Value::Array(parties));
            }
        }
        // A reference alone is written as JSON manifests write it, so both hash alike.
        let dossiers: Vec<Value> = dossiers
            .into_iter()
            .filter(|dossier| !dossier.is_empty())
            .map(|mut dossier| match dossier.remove("reference") {
                Some(reference) if dossier.is_empty() => reference,
                Some(reference) => {
                    dossier.insert("reference".into(), reference);
                    Value::Object(dossier)
                }
                None => Value::Object(dossier),
            })
            .collect();
        if !dossiers.is_empty() {
            fields.insert("dossiers".into(), Value::Array(dossiers));
        }
        rows.push((position, line, fields, row_errors));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let [batch_ref, source, scanned_at] = header_values;
    let header = header(batch_ref, source, scanned_at).map_err(|errors| {
        ValidationErrors(
            errors
                .0
                .into_iter()
                .map(|e| FieldError::new(format!("line[2].{}", e.field), e.message))
                .collect(),
        )
    })?;
    let entries = rows
        .into_iter()
        .map(|(position, line, fields, row_errors)| {
            let mut entry = entry(&header, position, Some(line), fields);
            if let Err(errors) = &mut entry.metadata {
                for error in errors.iter_mut() {
                    error.field = csv_field(&error.field);
                }
            }
            if !row_errors.is_empty() {
                let mut errors = entry.metadata.err().unwrap_or_default();
                errors.extend(row_errors);
                entry.metadata = Err(errors);
            }
            entry
        })
        .collect();
    finish(header, entries)
}

/// A CSV yes/no cell: true/false, oui/non, yes/no, 1/0.
fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "oui" | "yes" => Some(true),
        "false" | "0" | "non" | "no" => Some(false),
        _ => None,
    }
}

/// Sets `field` of the `number`th party (from 1), growing the list as needed; parties whose
/// every column is empty are dropped afterwards.
fn set_party(parties: &mut Vec<Map<String, Value>>, number: usize, field: &str, value: Value) {
    if parties.len() < number {
        parties.resize_with(number, Map::new);
    }
    parties[number - 1].insert(field.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn json_manifest(documents: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "batch_ref": "LOT-42",
            "source": "SCAN-LYON",
            "scanned_at": "2024-03-07T09:30:00+01:00",
            "documents": documents,
        }))
        .unwrap()
    }

    #[test]
    fn json_documents_get_the_batch_defaults() {
        let bytes = json_manifest(serde_json::json!([{
            "file": "0001.pdf", "sha256": SHA, "size": 12,
            "document_type": "RECLAMATION", "document_date": "2024-03-05",
            "individuals": [{"nir": "185057800608491"}]
        }]));
        let manifest = read_manifest(&bytes, ManifestFormat::Json).unwrap();
        let metadata = manifest.entries[0].parsed_metadata().unwrap();
        assert_eq!(metadata.source, "SCAN-LYON");
        assert_eq!(metadata.direction.as_str(), "inbound");
        assert_eq!(metadata.channel.as_str(), "postal");
        assert_eq!(
            metadata.external_id,
            Some(format!("sha256:{SHA}")),
            "the content names the document"
        );
        assert_eq!(
            metadata.received_at,
            Some(time::macros::datetime!(2024-03-07 08:30 UTC))
        );
    }

    #[test]
    fn csv_and_json_of_the_same_batch_have_the_same_fingerprint() {
        let json = json_manifest(serde_json::json!([{
            "file": "0001.pdf", "sha256": SHA, "size": 12,
            "document_type": "RECLAMATION", "document_date": "2024-03-05",
            "individuals": [{"nir": "185057800608491", "last_name": "LEFÈVRE"}],
            "companies": [{"siren": "732829320"}, {"siret": "55203253400018"}]
        }]));
        let csv = format!(
            "batch_ref;source;scanned_at;file;sha256;size;document_type;document_date;individual1_nir;individual1_last_name;company1_siren;company2_siret\n\
             LOT-42;SCAN-LYON;2024-03-07T09:30:00+01:00;0001.pdf;{SHA};12;RECLAMATION;2024-03-05;185057800608491;LEFÈVRE;732829320;55203253400018\n"
        );
        let from_json = read_manifest(&json, ManifestFormat::Json).unwrap();
        let from_csv = read_manifest(csv.as_bytes(), ManifestFormat::Csv).unwrap();
        assert!(
            from_csv.entries[0].metadata.is_ok(),
            "{:?}",
            from_csv.entries[0].metadata
        );
        assert_eq!(from_json.fingerprint(), from_csv.fingerprint());
    }

    #[test]
    fn csv_errors_name_the_line_and_the_column() {
        let csv = format!(
            "batch_ref,source,scanned_at,file,sha256,size,document_type,document_date,individual1_nir\n\
             LOT-42,SCAN-LYON,2024-03-07T09:30:00Z,0001.pdf,{SHA},12,RECLAMATION,2024-03-05,185057800608491\n\
             LOT-42,SCAN-LYON,2024-03-07T09:30:00Z,0002.pdf,{SHA},12,RECLAMATION,2024-02-30,185057800608492\n"
        );
        let manifest = read_manifest(csv.as_bytes(), ManifestFormat::Csv).unwrap();
        let fields: Vec<String> = manifest.errors().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["line[3].document_date", "line[3].individual1_nir"]);
    }

    #[test]
    fn files_must_stay_inside_the_batch_and_be_named_once() {
        let bytes = json_manifest(serde_json::json!([
            {"file": "../etc/passwd", "sha256": SHA, "size": 1, "document_type": "A", "document_date": "2024-01-01"},
            {"file": "a.pdf", "sha256": SHA, "size": 1, "document_type": "A", "document_date": "2024-01-01"},
            {"file": "a.pdf", "sha256": SHA, "size": 1, "document_type": "A", "document_date": "2024-01-01"}
        ]));
        let error = read_manifest(&bytes, ManifestFormat::Json).unwrap_err();
        assert_eq!(error.0[0].field, "documents[2].file");
        let bytes = json_manifest(serde_json::json!([
            {"file": "../etc/passwd", "sha256": SHA, "size": 1, "document_type": "A", "document_date": "2024-01-01"}
        ]));
        let manifest = read_manifest(&bytes, ManifestFormat::Json).unwrap();
        assert_eq!(manifest.errors().0[0].field, "documents[0].file");
    }

    fn manifest_schema() -> jsonschema::Validator {
        let metadata: Value =
            serde_json::from_str(crate::documents::metadata::METADATA_SCHEMA).unwrap();
        let manifest: Value = serde_json::from_str(MANIFEST_SCHEMA).unwrap();
        let registry = jsonschema::Registry::new()
            .add(
                "https://ged.example/schema/document-metadata.schema.json",
                metadata,
            )
            .unwrap()
            .prepare()
            .unwrap();
        jsonschema::options()
            .with_registry(&registry)
            .build(&manifest)
            .unwrap()
    }

    #[test]
    fn the_published_manifest_schema_describes_what_is_accepted() {
        let schema = manifest_schema();
        let good: Value = serde_json::from_slice(&json_manifest(serde_json::json!([{
            "file": "scans/0001.pdf", "sha256": SHA, "size": 12,
            "document_type": "RECLAMATION", "document_date": "2024-03-05",
            "individuals": [{"nir": "185057800608491"}]
        }])))
        .unwrap();
        assert!(schema.is_valid(&good));
        assert!(read_manifest(good.to_string().as_bytes(), ManifestFormat::Json).is_ok());
        let mut unknown = good.clone();
        unknown["documents"][0]["colour"] = Value::from("blue");
        assert!(!schema.is_valid(&unknown));
        assert!(
            read_manifest(unknown.to_string().as_bytes(), ManifestFormat::Json)
                .unwrap()
                .errors()
                .0[0]
                .field
                == "documents[0].colour"
        );

        // Every metadata field can be given per document: the two schemas cannot drift apart.
        let metadata: Value =
            serde_json::from_str(crate::documents::metadata::METADATA_SCHEMA).unwrap();
        let manifest: Value = serde_json::from_str(MANIFEST_SCHEMA).unwrap();
        let document = &manifest["$defs"]["document"]["properties"];
        for field in metadata["properties"].as_object().unwrap().keys() {
            assert!(
                document.get(field).is_some(),
                "{field} missing from the manifest schema"
            );
        }
    }

    #[test]
    fn a_header_error_refuses_the_manifest() {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "batch_ref": "LOT 42", "source": "SCAN-LYON", "documents": []
        }))
        .unwrap();
        let errors = read_manifest(&bytes, ManifestFormat::Json).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["batch_ref", "scanned_at"]);
    }
}
