//! Parties: the individuals and companies documents concern.
//!
//! A party is a record of its own in the catalog, shared by every document that concerns it and
//! found through its references (NIR, client numbers; SIREN, SIRETs, company numbers). A document
//! names a party by whichever references its sender knows; the catalog finds the party those
//! references already designate, or creates it, and adds the references it did not have yet.

mod as_sent;
pub mod export;
pub mod http;
pub mod input;

pub use as_sent::{companies_as_sent, individuals_as_sent};

use serde::Serialize;
use time::Date;

use crate::documents::model::Document;
use crate::dossiers::Dossier;
use crate::identifiers::{Nir, Siren, Siret};
use crate::validation::FieldError;

/// A person as a document names them: at least one of `nir` and `client_number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndividualReference {
    pub nir: Option<Nir>,
    pub client_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub birth_date: Option<Date>,
    pub role: Option<String>,
}

/// A company as a document names it: at least one of `siren`, `siret` and `company_number`.
/// When only a SIRET is given, `siren` is filled in from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyReference {
    pub siren: Option<Siren>,
    pub siret: Option<Siret>,
    pub company_number: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

/// The kinds of reference a party can be found by. A party has at most one NIR (a person) or
/// one SIREN (a legal unit), and any number of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferenceKind {
    Nir,
    ClientNumber,
    Siren,
    Siret,
    CompanyNumber,
}

impl ReferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nir => "nir",
            Self::ClientNumber => "client_number",
            Self::Siren => "siren",
            Self::Siret => "siret",
            Self::CompanyNumber => "company_number",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "nir" => Self::Nir,
            "client_number" => Self::ClientNumber,
            "siren" => Self::Siren,
            "siret" => Self::Siret,
            "company_number" => Self::CompanyNumber,
            _ => return None,
        })
    }

    /// Whether a party holds at most one reference of this kind.
    pub fn is_single_valued(self) -> bool {
        matches!(self, Self::Nir | Self::Siren)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartyKind {
    Individual,
    Company,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Company => "company",
        }
    }
}

impl IndividualReference {
    pub fn references(&self) -> Vec<(ReferenceKind, String)> {
        let mut references = Vec::new();
        if let Some(nir) = &self.nir {
            references.push((ReferenceKind::Nir, nir.as_str().to_string()));
        }
        if let Some(number) = &self.client_number {
            references.push((ReferenceKind::ClientNumber, number.clone()));
        }
        references
    }
}

impl CompanyReference {
    pub fn references(&self) -> Vec<(ReferenceKind, String)> {
        let mut references = Vec::new();
        if let Some(siren) = &self.siren {
            references.push((ReferenceKind::Siren, siren.as_str().to_string()));
        }
        if let Some(siret) = &self.siret {
            references.push((ReferenceKind::Siret, siret.as_str().to_string()));
        }
        if let Some(number) = &self.company_number {
            references.push((ReferenceKind::CompanyNumber, number.clone()));
        }
        references
    }
}

/// A person as shown on a document: the shared party record and its role on this document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IndividualOnDocument {
    pub party_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nir: Option<String>,
    pub client_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

/// A company as shown on a document: the shared party record, its role on this document and
/// the establishment (SIRET) the document was filed under, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CompanyOnDocument {
    pub party_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siren: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siret: Option<String>,
    pub company_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A party as archived, with every reference it is known by: the client view's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Party {
    pub party_id: i64,
    pub kind: PartyKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siren: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sirets: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub company_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub party: Party,
    /// Open dossiers first, then the newest opened.
    pub dossiers: Vec<Dossier>,
    /// The newest documents first, at most `limit`.
    pub documents: Vec<Document>,
    /// Every document concerning the party that the caller sees.
    pub documents_total: u64,
}

/// A NIR when the text is one (its key checked), a client number otherwise.
pub fn individual_reference(text: &str) -> (ReferenceKind, String) {
    match Nir::parse(text) {
        Ok(nir) => (ReferenceKind::Nir, nir.as_str().to_string()),
        Err(_) => (ReferenceKind::ClientNumber, text.trim().to_string()),
    }
}

/// A SIREN (9 digits) or SIRET (14), spaces and dots allowed; anything else is refused.
pub fn company_reference(text: &str) -> Result<(ReferenceKind, String), FieldError> {
    if let Ok(siren) = Siren::parse(text) {
        return Ok((ReferenceKind::Siren, siren.as_str().to_string()));
    }
    Siret::parse(text)
        .map(|siret| (ReferenceKind::Siret, siret.as_str().to_string()))
        .map_err(|e| {
            FieldError::new(
                "reference",
                format!("is neither a SIREN nor a SIRET: {}", e.0),
            )
        })
}
