//! CSV manifests: one line per document, `;` or `,` separated, UTF-8 (a byte order mark is
//! accepted, as spreadsheets write one). Every line repeats the batch's own columns; parties
//! and dossiers are numbered columns (`individual1_nir`, `company2_siret`, `dossier1_reference`).
//!
//! Each line becomes the fields a JSON manifest would give for its document, so both formats
//! go through the same validation, and errors are named back by line and column.

use serde_json::{Map, Value};

use super::entry::{entry, finish, header};
use super::{BatchHeader, Manifest, ManifestEntry};
use crate::dossiers::input::MAX_LINKS;
use crate::parties::input::{CompanyInput, IndividualInput};
use crate::validation::{FieldError, ValidationErrors};

/// The batch's own columns, the same on every line.
const HEADER_COLUMNS: [&str; 3] = ["batch_ref", "source", "scanned_at"];
/// Columns every CSV manifest has.
const REQUIRED_COLUMNS: [&str; 6] = [
    "batch_ref",
    "source",
    "scanned_at",
    "file",
    "sha256",
    "size",
];
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
const DOSSIER_COLUMNS: &[&str] = &["reference", "create", "kind", "category"];
/// Parties per document a CSV manifest can name, per kind.
const MAX_CSV_PARTIES: usize = 20;
const YES_NO: &str = "must be true or false (or oui/non, 1/0)";

/// Where a CSV column's value goes.
#[derive(Debug, Clone)]
enum CsvColumn {
    /// One of [`HEADER_COLUMNS`], by its index there.
    Header(usize),
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
    if let Some(slot) = HEADER_COLUMNS.iter().position(|column| *column == name) {
        return Some(CsvColumn::Header(slot));
    }
    Some(match name {
        "file" => CsvColumn::File,
        "sha256" => CsvColumn::Sha256,
        "size" => CsvColumn::Size,
        "sensitive" => CsvColumn::Sensitive,
        _ => {
            if let Some(field) = CSV_TEXT_COLUMNS.iter().find(|c| **c == name) {
                return Some(CsvColumn::Text(field));
            }
            return numbered_column(name);
        }
    })
}

/// `individual2_nir`, `company1_siret`, `dossier3_reference`.
fn numbered_column(name: &str) -> Option<CsvColumn> {
    for (prefix, fields, most) in [
        ("individual", IndividualInput::FIELDS, MAX_CSV_PARTIES),
        ("company", CompanyInput::FIELDS, MAX_CSV_PARTIES),
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
    None
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

pub(super) fn read_csv(bytes: &[u8]) -> Result<Manifest, ValidationErrors> {
    let text = decode(bytes)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let columns = read_columns(&mut reader)?;
    let mut batch = BatchValues::default();
    let mut rows = Vec::new();
    for (position, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(position + 2, |p| p.line() as usize);
            ValidationErrors::single(format!("line[{line}]"), format!("cannot be read: {e}"))
        })?;
        let line = record
            .position()
            .map_or(position + 2, |p| p.line() as usize);
        rows.push(read_row(&columns, &record, position, line, &mut batch));
    }
    let header = batch.into_header()?;
    let entries = rows
        .into_iter()
        .map(|row| row.into_entry(&header))
        .collect();
    finish(header, entries)
}

/// The manifest as text, without the byte order mark spreadsheets put first.
fn decode(bytes: &[u8]) -> Result<&str, ValidationErrors> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ValidationErrors::single(
            "manifest",
            format!("is not UTF-8 text (save the CSV as UTF-8): {e}"),
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// `;` when the first line has more of them than commas (French spreadsheets), `,` otherwise.
fn delimiter(text: &str) -> u8 {
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// The first line: every column known, the required ones present.
fn read_columns(reader: &mut ::csv::Reader<&[u8]>) -> Result<Vec<CsvColumn>, ValidationErrors> {
    let names = reader
        .headers()
        .map_err(|e| ValidationErrors::single("line[1]", format!("cannot be read: {e}")))?;
    let mut errors = ValidationErrors::default();
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        match csv_column(name) {
            Some(column) => columns.push(column),
            None => errors.push(
                format!("line[1].{name}"),
                "is not a known column (see docs/batches.md for the CSV columns)",
            ),
        }
    }
    for required in REQUIRED_COLUMNS {
        if !names.iter().any(|name| name == required) {
            errors.push(format!("line[1].{required}"), "is a required column");
        }
    }
    errors.into_result(columns)
}

/// The batch's own columns as the lines give them: the first line's values, and the lines
/// that contradict them (a manifest is one batch).
#[derive(Default)]
struct BatchValues {
    values: [Option<String>; 3],
    errors: ValidationErrors,
}

impl BatchValues {
    fn read(&mut self, slot: usize, value: &str, line: usize) {
        match &self.values[slot] {
            None => self.values[slot] = Some(value.to_string()),
            Some(first) if first == value => {}
            Some(first) => self.errors.push(
                format!("line[{line}].{}", HEADER_COLUMNS[slot]),
                format!("differs from the first line's {first:?}: a manifest is one batch"),
            ),
        }
    }

    /// The batch header; its errors are placed on the first document line.
    fn into_header(self) -> Result<BatchHeader, ValidationErrors> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let [batch_ref, source, scanned_at] = self.values;
        header(batch_ref, source, scanned_at).map_err(|errors| {
            ValidationErrors(
                errors
                    .0
                    .into_iter()
                    .map(|e| FieldError::new(format!("line[2].{}", e.field), e.message))
                    .collect(),
            )
        })
    }
}

/// One document line, read into the fields of a JSON manifest's document.
struct CsvRow {
    position: usize,
    line: usize,
    fields: Map<String, Value>,
    /// Cells that could not become a field (a size that is not a number).
    errors: Vec<FieldError>,
}

/// The numbered columns of one line, gathered per party or dossier.
#[derive(Default)]
struct NumberedColumns {
    individuals: Vec<Map<String, Value>>,
    companies: Vec<Map<String, Value>>,
    dossiers: Vec<Map<String, Value>>,
}

fn read_row(
    columns: &[CsvColumn],
    record: &::csv::StringRecord,
    position: usize,
    line: usize,
    batch: &mut BatchValues,
) -> CsvRow {
    let mut row = CsvRow {
        position,
        line,
        fields: Map::new(),
        errors: Vec::new(),
    };
    let mut numbered = NumberedColumns::default();
    for (column, value) in columns.iter().zip(record.iter()) {
        if value.is_empty() {
            continue;
        }
        match column {
            CsvColumn::Header(slot) => batch.read(*slot, value, line),
            _ => row.read_cell(column, value, &mut numbered),
        }
    }
    numbered.into_fields(&mut row.fields);
    row
}

impl CsvRow {
    fn read_cell(&mut self, column: &CsvColumn, value: &str, numbered: &mut NumberedColumns) {
        let text = Value::String(value.to_string());
        match column {
            CsvColumn::File => {
                self.fields.insert("file".into(), text);
            }
            CsvColumn::Sha256 => {
                self.fields.insert("sha256".into(), text);
            }
            CsvColumn::Size => match value.parse::<u64>() {
                Ok(size) => {
                    self.fields.insert("size".into(), Value::from(size));
                }
                Err(_) => self
                    .errors
                    .push(FieldError::new("size", "must be a number of bytes")),
            },
            CsvColumn::Sensitive => match yes_no(value) {
                Some(sensitive) => {
                    self.fields
                        .insert("sensitive".into(), Value::Bool(sensitive));
                }
                None => self.errors.push(FieldError::new("sensitive", YES_NO)),
            },
            CsvColumn::Text(field) => {
                self.fields.insert((*field).into(), text);
            }
            CsvColumn::Individual(number, field) => {
                set_numbered(&mut numbered.individuals, *number, field, text);
            }
            CsvColumn::Company(number, field) => {
                set_numbered(&mut numbered.companies, *number, field, text);
            }
            CsvColumn::Dossier(number, "create") => match yes_no(value) {
                Some(create) => {
                    set_numbered(&mut numbered.dossiers, *number, "create", create.into());
                }
                None => self
                    .errors
                    .push(FieldError::new(format!("dossier{number}_create"), YES_NO)),
            },
            CsvColumn::Dossier(number, field) => {
                set_numbered(&mut numbered.dossiers, *number, field, text);
            }
            // The batch's own columns are read by `BatchValues`.
            CsvColumn::Header(_) => {}
        }
    }

    /// The entry, its errors named by CSV column rather than by metadata field.
    fn into_entry(self, header: &BatchHeader) -> ManifestEntry {
        let mut entry = entry(header, self.position, Some(self.line), self.fields);
        if let Err(errors) = &mut entry.metadata {
            for error in errors.iter_mut() {
                error.field = csv_field(&error.field);
            }
        }
        if !self.errors.is_empty() {
            let mut errors = entry.metadata.err().unwrap_or_default();
            errors.extend(self.errors);
            entry.metadata = Err(errors);
        }
        entry
    }
}

impl NumberedColumns {
    /// Adds the `individuals`, `companies` and `dossiers` lists, leaving out the numbers whose
    /// every column is empty.
    fn into_fields(self, fields: &mut Map<String, Value>) {
        for (key, parties) in [
            ("individuals", self.individuals),
            ("companies", self.companies),
        ] {
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
        let dossiers: Vec<Value> = self
            .dossiers
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
    }
}

/// A CSV yes/no cell: true/false, oui/non, yes/no, 1/0.
fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "oui" | "yes" => Some(true),
        "false" | "0" | "non" | "no" => Some(false),
        _ => None,
    }
}

/// Sets `field` of the `number`th party or dossier (from 1), growing the list as needed; those
/// whose every column is empty are dropped afterwards.
fn set_numbered(list: &mut Vec<Map<String, Value>>, number: usize, field: &str, value: Value) {
    if list.len() < number {
        list.resize_with(number, Map::new);
    }
    list[number - 1].insert(field.to_string(), value);
}
