//! JSON manifests: the header's fields and a `documents` array, each document kept as raw
//! text until its turn, so a large manifest is never a whole JSON tree in memory.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::Manifest;
use super::entry::{entry, finish, header};
use crate::validation::{FieldError, ValidationErrors};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonManifest<'a> {
    batch_ref: Option<String>,
    source: Option<String>,
    scanned_at: Option<String>,
    #[serde(borrow)]
    documents: Option<Vec<&'a RawValue>>,
}

pub(super) fn read_json(bytes: &[u8]) -> Result<Manifest, ValidationErrors> {
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
            // The manifest parsed: a document fails here only by naming a key twice.
            let (fields, refused) = match crate::json::from_str(raw.get()) {
                Ok(Value::Object(fields)) => (fields, None),
                Ok(_) => (Map::new(), Some("must be an object".to_string())),
                Err(error) => (Map::new(), Some(error.to_string())),
            };
            let mut entry = entry(&header, position, None, fields);
            if let Some(reason) = refused {
                entry.metadata = Err(vec![FieldError::new("", reason)]);
            }
            entry
        })
        .collect::<Vec<_>>();
    finish(header, entries)
}
