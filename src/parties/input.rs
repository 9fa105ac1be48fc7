//! What callers send about the parties a document or a dossier concerns, validated into
//! references.
//!
//! Document metadata, dossiers and batch manifests all name parties the same way, so the shape
//! and the checks live here, beside the references they produce: a NIR's key, a SIREN's or
//! SIRET's check digit, a real birth date, a SIRET belonging to the SIREN given beside it.

use serde::Deserialize;
use time::Date;

use super::{CompanyReference, IndividualReference};
use crate::dates::parse_date;
use crate::identifiers::{Nir, Siren, Siret};
use crate::validation::{ValidationErrors, trimmed};

/// Older birth dates are typing errors in practice.
const EARLIEST_BIRTH_DATE: Date = time::macros::date!(1880 - 01 - 01);

/// A person as a caller names them (`individuals[i]` of metadata and dossiers).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndividualInput {
    nir: Option<String>,
    client_number: Option<String>,
    last_name: Option<String>,
    first_name: Option<String>,
    birth_date: Option<String>,
    role: Option<String>,
}

/// A company as a caller names it (`companies[i]` of metadata and dossiers).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    siren: Option<String>,
    siret: Option<String>,
    company_number: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

impl IndividualInput {
    /// Its fields, as a CSV manifest names them in `individualN_field` columns.
    pub const FIELDS: &'static [&'static str] = &[
        "nir",
        "client_number",
        "last_name",
        "first_name",
        "birth_date",
        "role",
    ];
}

impl CompanyInput {
    /// Its fields, as a CSV manifest names them in `companyN_field` columns.
    pub const FIELDS: &'static [&'static str] =
        &["siren", "siret", "company_number", "name", "role"];
}

/// Validates the individuals of one input; errors are placed at `individuals[i]`, and only the
/// valid individuals are returned (the caller refuses the whole input when `errors` grew).
pub fn validate_individuals(
    inputs: Vec<IndividualInput>,
    today: Date,
    errors: &mut ValidationErrors,
) -> Vec<IndividualReference> {
    inputs
        .into_iter()
        .enumerate()
        .filter_map(|(index, input)| {
            validate_individual(input, &format!("individuals[{index}]"), today, errors)
        })
        .collect()
}

/// Validates the companies of one input; errors are placed at `companies[i]`.
pub fn validate_companies(
    inputs: Vec<CompanyInput>,
    errors: &mut ValidationErrors,
) -> Vec<CompanyReference> {
    inputs
        .into_iter()
        .enumerate()
        .filter_map(|(index, input)| {
            validate_company(input, &format!("companies[{index}]"), errors)
        })
        .collect()
}

fn validate_individual(
    input: IndividualInput,
    path: &str,
    today: Date,
    errors: &mut ValidationErrors,
) -> Option<IndividualReference> {
    let errors_before = errors.0.len();
    let nir = input.nir.and_then(|text| {
        Nir::parse(&text)
            .map_err(|e| errors.push(format!("{path}.nir"), e.0))
            .ok()
    });
    let birth_date = input.birth_date.and_then(|text| match parse_date(&text) {
        Ok(date) if date > today => {
            errors.push(format!("{path}.birth_date"), "is in the future");
            None
        }
        Ok(date) if date < EARLIEST_BIRTH_DATE => {
            errors.push(format!("{path}.birth_date"), "is before 1880");
            None
        }
        Ok(date) => Some(date),
        Err(message) => {
            errors.push(format!("{path}.birth_date"), message);
            None
        }
    });
    let client_number = trimmed(input.client_number);
    if nir.is_none() && client_number.is_none() && errors.0.len() == errors_before {
        errors.push(path, "needs at least one reference: nir or client_number");
    }
    (errors.0.len() == errors_before).then_some(IndividualReference {
        nir,
        client_number,
        last_name: trimmed(input.last_name),
        first_name: trimmed(input.first_name),
        birth_date,
        role: input.role,
    })
}

fn validate_company(
    input: CompanyInput,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<CompanyReference> {
    let errors_before = errors.0.len();
    let siren = input.siren.and_then(|text| {
        Siren::parse(&text)
            .map_err(|e| errors.push(format!("{path}.siren"), e.0))
            .ok()
    });
    let siret = input.siret.and_then(|text| {
        Siret::parse(&text)
            .map_err(|e| errors.push(format!("{path}.siret"), e.0))
            .ok()
    });
    if let (Some(siren), Some(siret)) = (&siren, &siret)
        && siret.siren() != *siren
    {
        errors.push(
            format!("{path}.siret"),
            format!("does not belong to the SIREN {siren} given beside it"),
        );
    }
    let company_number = trimmed(input.company_number);
    if siren.is_none()
        && siret.is_none()
        && company_number.is_none()
        && errors.0.len() == errors_before
    {
        errors.push(
            path,
            "needs at least one reference: siren, siret or company_number",
        );
    }
    (errors.0.len() == errors_before).then(|| CompanyReference {
        siren: siren.or_else(|| siret.as_ref().map(Siret::siren)),
        siret,
        company_number,
        name: trimmed(input.name),
        role: input.role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The CSV columns a manifest accepts are the fields this module reads: a field added to
    /// one struct and not to its list would be refused in CSV.
    #[test]
    fn the_field_lists_name_every_field() {
        let individual: serde_json::Map<String, serde_json::Value> = IndividualInput::FIELDS
            .iter()
            .map(|field| (field.to_string(), json!("x")))
            .collect();
        assert!(serde_json::from_value::<IndividualInput>(individual.into()).is_ok());
        let company: serde_json::Map<String, serde_json::Value> = CompanyInput::FIELDS
            .iter()
            .map(|field| (field.to_string(), json!("x")))
            .collect();
        assert!(serde_json::from_value::<CompanyInput>(company.into()).is_ok());
    }

    #[test]
    fn a_party_needs_a_reference_and_valid_identifiers() {
        let today = time::macros::date!(2024 - 03 - 05);
        let mut errors = ValidationErrors::default();
        let individuals: Vec<IndividualInput> = serde_json::from_value(json!([
            {"nir": "1 85 05 78 006 084 91", "last_name": " Lefèvre "},
            {"last_name": "Sans Référence"},
            {"client_number": "C-1", "birth_date": "2030-01-01"}
        ]))
        .unwrap();
        let valid = validate_individuals(individuals, today, &mut errors);
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].last_name.as_deref(), Some("Lefèvre"));
        let companies: Vec<CompanyInput> =
            serde_json::from_value(json!([{"siren": "732829320", "siret": "55203253400018"}]))
                .unwrap();
        assert!(validate_companies(companies, &mut errors).is_empty());
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "individuals[1]",
                "individuals[2].birth_date",
                "companies[0].siret"
            ]
        );
    }
}
