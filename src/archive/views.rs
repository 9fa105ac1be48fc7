//! The read models agents open whole — a dossier's timeline, a party's client view and its
//! right-of-access export — each recorded in the access trail before it is returned.

use bytes::Bytes;
use futures::Stream;
use serde_json::json;

use super::Archive;
use crate::access::Scope;
use crate::catalog::CatalogError;
use crate::dossiers::Timeline;
use crate::parties::{ClientView, Party, PartyKind, ReferenceKind};

/// A person's right-of-access (RGPD) export, ready to stream.
pub struct PartyExport<S> {
    /// The zip's file name.
    pub file_name: String,
    pub zip: S,
}

impl Archive {
    /// A dossier and its documents, the reading recorded: the API's and the web UI's timeline.
    /// `None` when the scope has no such dossier.
    pub async fn dossier_timeline(
        &self,
        scope: &Scope,
        reference: &str,
    ) -> Result<Option<Timeline>, CatalogError> {
        let Some(dossier) = self.catalog.dossier(scope, reference).await? else {
            return Ok(None);
        };
        let Some(documents) = self.catalog.dossier_documents(scope, reference).await? else {
            return Ok(None);
        };
        let details = json!({ "reference": reference, "documents": documents.len() });
        self.catalog
            .record_access(scope, "dossier.viewed", None, &details)
            .await?;
        Ok(Some(Timeline { dossier, documents }))
    }

    /// A party, its dossiers and its newest `limit` documents, the reading recorded: the API's
    /// and the web UI's client view. `None` when the reference designates no party of
    /// `party_kind` in the scope.
    pub async fn client_view(
        &self,
        scope: &Scope,
        party_kind: PartyKind,
        kind: ReferenceKind,
        value: &str,
        limit: u32,
    ) -> Result<Option<ClientView>, CatalogError> {
        let Some(party) = self.find_party(scope, party_kind, kind, value).await? else {
            return Ok(None);
        };
        let dossiers = self.catalog.party_dossiers(scope, party.party_id).await?;
        let (documents, documents_total) = self
            .catalog
            .party_documents(scope, party.party_id, Some(limit))
            .await?;
        let details = json!({
            "party": self.identifiers.hash(kind.as_str(), value),
            "documents": documents.len(),
        });
        self.catalog
            .record_access(scope, "party.viewed", None, &details)
            .await?;
        Ok(Some(ClientView {
            party,
            dossiers,
            documents,
            documents_total,
        }))
    }

    /// Every document concerning a person that the scope sees, as a zip with `index.json` and
    /// `index.csv`. The export is recorded before the first byte leaves: an export cut short
    /// was still an access. `None` when the reference designates no person in the scope.
    pub async fn export_individual(
        &self,
        scope: &Scope,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<
        Option<PartyExport<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static>>,
        CatalogError,
    > {
        let Some(party) = self
            .find_party(scope, PartyKind::Individual, kind, value)
            .await?
        else {
            return Ok(None);
        };
        let dossiers = self.catalog.party_dossiers(scope, party.party_id).await?;
        let (documents, _) = self
            .catalog
            .party_documents(scope, party.party_id, None)
            .await?;
        let details = json!({
            "party": self.identifiers.hash(kind.as_str(), value),
            "documents": documents.iter().map(|d| d.id.to_string()).collect::<Vec<_>>(),
        });
        self.catalog
            .record_access(scope, "party.exported", None, &details)
            .await?;
        let file_name = format!("acces-rgpd-{}.zip", party.party_id);
        let zip =
            crate::parties::export::stream_zip(self.content.clone(), party, dossiers, documents);
        Ok(Some(PartyExport { file_name, zip }))
    }

    /// The party of `party_kind` a reference designates in the scope.
    async fn find_party(
        &self,
        scope: &Scope,
        party_kind: PartyKind,
        kind: ReferenceKind,
        value: &str,
    ) -> Result<Option<Party>, CatalogError> {
        Ok(self
            .catalog
            .party(scope, kind, value)
            .await?
            .filter(|party| party.kind == party_kind))
    }
}
