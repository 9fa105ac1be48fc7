//! Parties (persons and companies) in the catalog, as the client view reads them: a party by
//! one of its references, and the dossiers and documents concerning it. Parties are written as
//! the documents and dossiers naming them are.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;
use crate::documents::model::Document;
use crate::dossiers::Dossier;
use crate::parties::{Party, ReferenceKind};

#[async_trait]
pub trait PartyStore: Send + Sync + 'static {
    /// The party of the scope's tenant one of its references designates. A SIREN or SIRET
    /// designates the company that holds it (or, for a SIRET, its SIREN).
    async fn party(
        &self,
        scope: &Scope,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<Option<Party>, CatalogError>;

    /// The dossiers concerning a party, open ones first, then newest opened first.
    async fn party_dossiers(
        &self,
        scope: &Scope,
        party_id: i64,
    ) -> Result<Vec<Dossier>, CatalogError>;

    /// The documents concerning a party that the scope sees, newest document date first: at
    /// most `limit` of them (all with `None`), and how many there are.
    async fn party_documents(
        &self,
        scope: &Scope,
        party_id: i64,
        limit: Option<u32>,
    ) -> Result<(Vec<Document>, u64), CatalogError>;
}
