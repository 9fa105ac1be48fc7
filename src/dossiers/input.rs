//! What callers send about dossiers, validated: a dossier to create, a status change, and the
//! dossiers a document's metadata names.

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::{DossierKind, DossierLink, DossierStatus, DossierTemplate, NewDossier};
use crate::dates::parse_timestamp;
use crate::parties::input::{
    CompanyInput, IndividualInput, validate_companies, validate_individuals,
};
use crate::validation::{ValidationErrors, is_code, trimmed};

/// Dossiers one document may be linked to at archiving.
pub const MAX_LINKS: usize = 20;
const MAX_CATEGORY_LENGTH: usize = 100;
const MAX_TITLE_LENGTH: usize = 500;
const MAX_REASON_LENGTH: usize = 1000;
/// Clocks of other systems run a little ahead.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The body of `POST /api/v1/dossiers`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DossierInput {
    // Required fields are optional here so that a missing one is reported beside the others.
    /// Unique in the tenant: letters, digits and `_.:-`, 64 at most (`FAC-2024-000123`).
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
    reference: Option<String>,
    #[schema(required = true, value_type = DossierKind)]
    kind: Option<String>,
    /// One of the tenant's categories (`GET /api/v1/dossier-categories`), any case.
    #[schema(required = true, value_type = String, max_length = 100)]
    category: Option<String>,
    #[schema(max_length = 500)]
    title: Option<String>,
    #[schema(max_length = 64)]
    agent: Option<String>,
    /// The reference of the dossier this one follows (a complaint about a closed request).
    follows: Option<String>,
    /// RFC 3339; now when absent.
    #[schema(format = DateTime)]
    opened_at: Option<String>,
    #[serde(default)]
    individuals: Vec<IndividualInput>,
    #[serde(default)]
    companies: Vec<CompanyInput>,
}

/// The body of `POST /api/v1/dossiers/{reference}/status`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// `closed` or `cancelled`.
    #[schema(required = true, value_type = String, pattern = "^(closed|cancelled)$")]
    status: Option<String>,
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// A dossier named in document metadata: its reference, or an object asking for creation.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum DossierLinkInput {
    Reference(String),
    Detailed(DetailedLinkInput),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedLinkInput {
    reference: Option<String>,
    #[serde(default)]
    create: bool,
    kind: Option<String>,
    category: Option<String>,
}

impl DossierInput {
    pub fn validate(self) -> Result<NewDossier, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let reference = reference("reference", self.reference, &mut errors);
        let kind = match self.kind.as_deref() {
            None => {
                errors.push("kind", "is required");
                None
            }
            Some(text) => kind("kind", text, &mut errors),
        };
        let category = category("category", self.category, &mut errors);
        let title = trimmed(self.title);
        if title
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_TITLE_LENGTH)
        {
            errors.push(
                "title",
                format!("is longer than {MAX_TITLE_LENGTH} characters"),
            );
        }
        let agent = trimmed(self.agent);
        if agent.as_ref().is_some_and(|a| a.chars().count() > 64) {
            errors.push("agent", "is longer than 64 characters");
        }
        let follows = self.follows.map(|text| text.trim().to_string());
        if let Some(follows) = &follows
            && !is_code(follows)
        {
            errors.push("follows", REFERENCE_RULE);
        }
        let opened_at = self
            .opened_at
            .and_then(|text| match parse_timestamp(&text) {
                Ok(at) if at > OffsetDateTime::now_utc() + CLOCK_SKEW => {
                    errors.push("opened_at", "is in the future");
                    None
                }
                Ok(at) => Some(at),
                Err(message) => {
                    errors.push("opened_at", message);
                    None
                }
            });
        let today = OffsetDateTime::now_utc().date();
        let individuals = validate_individuals(self.individuals, today, &mut errors);
        let companies = validate_companies(self.companies, &mut errors);
        let (Some(reference), Some(kind), Some(category)) = (reference, kind, category) else {
            return Err(errors);
        };
        errors.into_result(NewDossier {
            reference,
            kind,
            category,
            title,
            agent,
            follows,
            opened_at,
            individuals,
            companies,
        })
    }
}

impl StatusInput {
    pub fn validate(self) -> Result<(DossierStatus, Option<String>), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let status = match self.status.as_deref().map(DossierStatus::parse) {
            None => {
                errors.push("status", "is required");
                None
            }
            Some(None) | Some(Some(DossierStatus::Open)) => {
                errors.push("status", "must be closed or cancelled");
                None
            }
            Some(status) => status,
        };
        let reason = trimmed(self.reason);
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON_LENGTH)
        {
            errors.push(
                "reason",
                format!("is longer than {MAX_REASON_LENGTH} characters"),
            );
        }
        match status {
            Some(status) => errors.into_result((status, reason)),
            None => Err(errors),
        }
    }
}

const REFERENCE_RULE: &str =
    "is not a dossier reference: letters, digits and _.:- (64 at most), such as FAC-2024-000123";

fn reference(field: &str, input: Option<String>, errors: &mut ValidationErrors) -> Option<String> {
    match input.map(|text| text.trim().to_string()) {
        None => {
            errors.push(field, "is required");
            None
        }
        Some(text) if is_code(&text) => Some(text),
        Some(_) => {
            errors.push(field, REFERENCE_RULE);
            None
        }
    }
}

fn kind(field: &str, text: &str, errors: &mut ValidationErrors) -> Option<DossierKind> {
    let kind = DossierKind::parse(text);
    if kind.is_none() {
        errors.push(field, "must be request, complaint or internal");
    }
    kind
}

/// Whether the category is in the tenant's list is the catalog's check; this one is the shape.
fn category(field: &str, input: Option<String>, errors: &mut ValidationErrors) -> Option<String> {
    match trimmed(input) {
        None => {
            errors.push(field, "is required");
            None
        }
        Some(text) if text.chars().count() > MAX_CATEGORY_LENGTH => {
            errors.push(
                field,
                format!("is longer than {MAX_CATEGORY_LENGTH} characters"),
            );
            None
        }
        Some(text) => Some(text),
    }
}

/// Validates the dossiers a document's metadata names; errors are placed at `dossiers[i]`.
pub fn validate_links(
    inputs: Vec<DossierLinkInput>,
    errors: &mut ValidationErrors,
) -> Vec<DossierLink> {
    if inputs.len() > MAX_LINKS {
        errors.push("dossiers", format!("names more than {MAX_LINKS} dossiers"));
        return Vec::new();
    }
    let mut links: Vec<DossierLink> = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let path = format!("dossiers[{index}]");
        let link = match input {
            DossierLinkInput::Reference(text) => {
                reference(&path, Some(text), errors).map(|reference| DossierLink {
                    reference,
                    create: None,
                })
            }
            DossierLinkInput::Detailed(detail) => {
                let reference = reference(&format!("{path}.reference"), detail.reference, errors);
                let create = if detail.create {
                    let kind = match detail.kind.as_deref() {
                        None => Some(DossierKind::Request),
                        Some(text) => kind(&format!("{path}.kind"), text, errors),
                    };
                    let category = category(&format!("{path}.category"), detail.category, errors);
                    kind.zip(category)
                        .map(|(kind, category)| DossierTemplate { kind, category })
                } else {
                    for (name, given) in [("kind", &detail.kind), ("category", &detail.category)] {
                        if given.is_some() {
                            errors.push(
                                format!("{path}.{name}"),
                                "is only read with \"create\": true",
                            );
                        }
                    }
                    None
                };
                reference.map(|reference| DossierLink { reference, create })
            }
        };
        if let Some(link) = link {
            if links.iter().any(|known| known.reference == link.reference) {
                errors.push(path, "names a dossier already listed");
            } else {
                links.push(link);
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn links(value: serde_json::Value) -> (Vec<DossierLink>, Vec<String>) {
        let inputs: Vec<DossierLinkInput> = serde_json::from_value(value).unwrap();
        let mut errors = ValidationErrors::default();
        let links = validate_links(inputs, &mut errors);
        (links, errors.0.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn links_are_references_or_creation_requests() {
        let (links, errors) = links(json!([
            "FAC-2024-000123",
            {"reference": "REC-2024-9", "create": true, "category": "Facture"}
        ]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(links[0].create, None);
        assert_eq!(
            links[1].create,
            Some(DossierTemplate {
                kind: DossierKind::Request,
                category: "Facture".into()
            })
        );
    }

    #[test]
    fn link_errors_name_their_entry() {
        let (_, errors) = links(json!([
            "bad reference!",
            {"reference": "A-1", "create": true},
            {"reference": "A-2", "kind": "complaint"},
            "A-2"
        ]));
        assert_eq!(
            errors,
            [
                "dossiers[0]",
                "dossiers[1].category",
                "dossiers[2].kind",
                "dossiers[3]"
            ]
        );
    }

    #[test]
    fn only_open_dossiers_change_status_and_never_back() {
        assert!(DossierStatus::Open.may_become(DossierStatus::Closed));
        assert!(DossierStatus::Open.may_become(DossierStatus::Cancelled));
        assert!(!DossierStatus::Closed.may_become(DossierStatus::Open));
        assert!(!DossierStatus::Cancelled.may_become(DossierStatus::Closed));
    }
}
