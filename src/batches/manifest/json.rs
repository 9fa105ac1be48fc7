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
