//! Dossiers in the catalog: the tenant's categories, dossiers with their parties and status
//! history, and the links between dossiers and documents.

use async_trait::async_trait;

use super::CatalogError;
use crate::access::Scope;
use crate::documents::model::{Document, DocumentId};
use crate::dossiers::{Dossier, DossierFilter, DossierPage, DossierStatus, Linked, NewDossier};

#[async_trait]
pub trait DossierStore: Send + Sync + 'static {
    /// The scope's tenant's dossier categories, in their order.
    async fn dossier_categories(&self, scope: &Scope) -> Result<Vec<String>, CatalogError>;

    /// Replaces the tenant's dossier categories (dossiers keep theirs) and audits the change.
    async fn set_dossier_categories(
        &self,
        scope: &Scope,
        categories: &[String],
    ) -> Result<(), CatalogError>;

    /// Creates an open dossier with its parties and audits it; a taken reference is a conflict,
    /// a category outside the tenant's list or an unknown `follows` is invalid.
    async fn create_dossier(
        &self,
        scope: &Scope,
        new: &NewDossier,
    ) -> Result<Dossier, CatalogError>;

    async fn dossier(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Dossier>, CatalogError>;

    /// The statuses of the dossiers of these references that exist in the scope's tenant.
    async fn dossier_statuses(
        &self,
        scope: &Scope,
        references: &[String],
    ) -> Result<Vec<(String, DossierStatus)>, CatalogError>;

    /// The scope's tenant's dossiers matching `filter`, newest opened first.
    async fn dossiers(
        &self,
        scope: &Scope,
        filter: &DossierFilter,
    ) -> Result<DossierPage, CatalogError>;

    /// Closes or cancels an open dossier, records who and when, and re-indexes its documents.
    /// `None` when there is no such dossier; a change the status cannot make is a conflict.
    async fn change_dossier_status(
        &self,
        scope: &Scope,
        reference: &str,
        status: DossierStatus,
        reason: Option<&str>,
    ) -> Result<Option<(Dossier, i64)>, CatalogError>;

    /// Links a document the scope sees to a dossier. `None` when either does not exist in the
    /// scope; a cancelled dossier is invalid.
    async fn link_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<Linked>, CatalogError>;

    /// Unlinks; `None` when the document (seen by the scope) is not in that dossier. Returns the
    /// change sequence number.
    async fn unlink_document(
        &self,
        scope: &Scope,
        reference: &str,
        document: DocumentId,
    ) -> Result<Option<i64>, CatalogError>;

    /// The documents of a dossier the scope sees, by document date then archive order.
    async fn dossier_documents(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Vec<Document>>, CatalogError>;
}
