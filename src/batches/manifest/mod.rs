//! Reading a batch manifest, JSON or CSV, into validated entries.
//!
//! The same code runs on the server (every manifest it receives) and in `ged ingest` (before
//! anything is sent, and for `--dry-run`), so a centre learns of a bad line on its own machine.
//! Documents are validated one at a time and kept as compact text: a 100,000-document
//! manifest never sits in memory as a JSON tree.
//!
//! Each format has its reader (`json`, `csv`), which turns a document into the fields of a JSON
//! manifest; `entry` then validates those fields the same way for both, so the two formats
//! accept the same documents and refuse them with the same messages.

mod csv;
mod entry;
mod json;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::documents::model::DocumentMetadata;
use crate::identifiers::Sha256Hex;
use crate::validation::{FieldError, ValidationErrors};

pub use self::csv::csv_field;

/// The published schema of JSON manifests (documentation; the server validates each document
/// against the metadata schema after applying the batch's defaults).
pub const MANIFEST_SCHEMA: &str = include_str!("../../../schema/batch-manifest.schema.json");

/// How a manifest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Json,
    /// One line per document, `;` or `,` separated, UTF-8; see docs/batches.md for the columns.
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
        ManifestFormat::Json => json::read_json(bytes)?,
        ManifestFormat::Csv => csv::read_csv(bytes)?,
    };
    check_duplicates(&manifest)?;
    Ok(manifest)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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

    const OTHER_SHA: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

    fn error_fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn csv_batch_columns_are_checked_once_for_the_whole_manifest() {
        let unknown = "batch_ref,source,scanned_at,file,sha256,colour\n";
        let errors = read_manifest(unknown.as_bytes(), ManifestFormat::Csv).unwrap_err();
        assert_eq!(error_fields(&errors), ["line[1].colour", "line[1].size"]);

        let two_batches = format!(
            "batch_ref,source,scanned_at,file,sha256,size\n\
             LOT-42,SCAN-LYON,2024-03-07T09:30:00Z,a.pdf,{SHA},12\n\
             LOT-43,SCAN-LYON,2024-03-07T09:30:00Z,b.pdf,{SHA},12\n"
        );
        let errors = read_manifest(two_batches.as_bytes(), ManifestFormat::Csv).unwrap_err();
        assert_eq!(error_fields(&errors), ["line[3].batch_ref"]);
        assert!(errors.0[0].message.contains("\"LOT-42\""), "{errors:?}");

        let bad_date = format!(
            "batch_ref,source,scanned_at,file,sha256,size\n\
             LOT-42,SCAN-LYON,yesterday,a.pdf,{SHA},12\n"
        );
        let errors = read_manifest(bad_date.as_bytes(), ManifestFormat::Csv).unwrap_err();
        assert_eq!(error_fields(&errors), ["line[2].scanned_at"]);
    }

    #[test]
    fn csv_cells_become_the_fields_of_a_json_document() {
        // A spreadsheet's export: byte order mark, semicolons, French yes/no.
        let csv = format!(
            "\u{feff}batch_ref;source;scanned_at;file;sha256;size;document_type;document_date;sensitive;\
             individual1_client_number;individual2_nir;dossier1_reference;dossier2_reference;dossier2_create\n\
             LOT-42;SCAN-LYON;2024-03-07T09:30:00Z;a.pdf;{SHA};12;RECLAMATION;2024-03-05;oui;C-1;;FAC-1;REC-2;non\n\
             LOT-42;SCAN-LYON;2024-03-07T09:30:00Z;b.pdf;{OTHER_SHA};12a;RECLAMATION;2024-03-05;peut-être;C-1;;FAC-1;REC-2;bof\n"
        );
        let manifest = read_manifest(csv.as_bytes(), ManifestFormat::Csv).unwrap();
        let first: Value =
            serde_json::from_str(manifest.entries[0].metadata.as_ref().unwrap()).unwrap();
        assert_eq!(first["sensitive"], true);
        assert_eq!(
            first["individuals"],
            serde_json::json!([{"client_number": "C-1"}])
        );
        assert_eq!(
            first["dossiers"],
            serde_json::json!(["FAC-1", {"reference": "REC-2", "create": false}])
        );
        assert_eq!(manifest.entries[1].line, Some(3));
        let fields: Vec<String> = manifest.errors().0.into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "line[3].size",
                "line[3].size",
                "line[3].sensitive",
                "line[3].dossier2_create"
            ]
        );
    }
}
