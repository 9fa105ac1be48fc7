//! Dossiers (case files): a client's request, complaint or internal case, gathering the inbound
//! and outbound documents about it.
//!
//! A dossier is found by its reference, unique per tenant. Its status moves once, from open to
//! closed or cancelled: a complaint about a closed dossier opens a new dossier, which may name
//! the one it follows. See `docs/dossiers.md`.

pub mod http;
pub mod input;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::documents::model::Document;
use crate::parties::{
    CompanyOnDocument, CompanyReference, IndividualOnDocument, IndividualReference,
};

/// The categories a new tenant starts with; an admin replaces the list per tenant.
pub const DEFAULT_CATEGORIES: &[&str] = &[
    "Facture",
    "Règlement",
    "Dégrèvement",
    "RDR",
    "FSL",
    "Résiliation",
    "Autre",
];

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DossierKind {
    /// A client's request (a question, a claim for a benefit, a change of situation).
    Request,
    Complaint,
    /// Opened by the organisation itself.
    Internal,
}

impl DossierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Complaint => "complaint",
            Self::Internal => "internal",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "request" => Self::Request,
            "complaint" => Self::Complaint,
            "internal" => Self::Internal,
            _ => return None,
        })
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DossierStatus {
    Open,
    Closed,
    /// Opened by mistake or withdrawn: no document may be linked to it any more.
    Cancelled,
}

impl DossierStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "open" => Self::Open,
            "closed" => Self::Closed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// An open dossier is closed or cancelled once; neither is reopened.
    pub fn may_become(self, next: Self) -> bool {
        self == Self::Open && next != Self::Open
    }
}

/// Why a document cannot be linked to a cancelled dossier: the one wording of the API, the
/// batch receipt and the catalog.
pub fn cancelled_message(reference: &str) -> String {
    format!("the dossier {reference} is cancelled: documents are no longer linked to it")
}

/// Why a document cannot name a dossier that does not exist.
pub fn unknown_message(reference: &str) -> String {
    format!(
        "names no dossier of this archive ({reference}); create it first, or ask for it with \
         {{\"reference\", \"create\": true, \"category\"}}"
    )
}

/// A dossier to create, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDossier {
    pub reference: String,
    pub kind: DossierKind,
    pub category: String,
    pub title: Option<String>,
    pub agent: Option<String>,
    /// The reference of the earlier dossier this one follows.
    pub follows: Option<String>,
    pub opened_at: Option<OffsetDateTime>,
    pub individuals: Vec<IndividualReference>,
    pub companies: Vec<CompanyReference>,
}

/// A dossier named in a document's metadata: linked at archiving, created first if asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierLink {
    pub reference: String,
    /// `Some` when the caller asked for the dossier to be created if it does not exist: it is
    /// then opened with these, the document's parties and agent.
    pub create: Option<DossierTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierTemplate {
    pub kind: DossierKind,
    pub category: String,
}

/// One status a dossier took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusChange {
    pub status: DossierStatus,
    pub at: String,
    /// The token (or `cli`) that made the change.
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A dossier as the catalog holds it and the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Dossier {
    pub reference: String,
    pub kind: DossierKind,
    pub category: String,
    pub status: DossierStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    pub opened_at: String,
    pub status_changed_at: String,
    pub individuals: Vec<IndividualOnDocument>,
    pub companies: Vec<CompanyOnDocument>,
    pub status_history: Vec<StatusChange>,
    /// Documents linked, the caller's visible ones only.
    pub document_count: u64,
}

/// A dossier as a document shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DossierOnDocument {
    pub reference: String,
    pub kind: DossierKind,
    pub category: String,
    pub status: DossierStatus,
    pub linked_at: String,
    pub linked_by: String,
}

/// A party named by one of its references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyFilter {
    pub kind: crate::parties::ReferenceKind,
    pub value: String,
}

/// Criteria of a dossier list; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct DossierFilter {
    pub party: Option<PartyFilter>,
    pub statuses: Vec<DossierStatus>,
    pub kinds: Vec<DossierKind>,
    pub categories: Vec<String>,
    pub agent: Option<String>,
    /// Bounds on `opened_at`, stored form, `to` excluded.
    pub opened_from: Option<String>,
    pub opened_to: Option<String>,
    pub limit: u32,
    /// Resume after this dossier: (opened_at, internal id) of the last one listed.
    pub after: Option<(String, i64)>,
}

/// A page of dossiers, newest opened first.
#[derive(Debug, Clone)]
pub struct DossierPage {
    pub dossiers: Vec<Dossier>,
    /// Where the next page starts, when there is one.
    pub next: Option<(String, i64)>,
}

/// What linking a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    Created {
        seq: i64,
    },
    /// The document was already in the dossier; nothing was written.
    Existing {
        seq: i64,
    },
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub dossier: Dossier,
    /// Inbound and outbound documents by document date, then archive order.
    pub documents: Vec<Document>,
}
