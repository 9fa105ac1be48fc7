//! Document, dossier, client and batch pages, and the forms that link and unlink documents.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;

use super::search::parties;
use super::{csrf_refusal, error_page, format, html_response, layout};
use crate::access::Permission;
use crate::access::session::Session;
use crate::audit::AuditFilter;
use crate::batches::BatchFilter;
use crate::dates::{format_timestamp, parse_date};
use crate::documents::model::{Document, DocumentId};
use crate::dossiers::Dossier;
use crate::extraction::TextStatus;
use crate::http::{ApiError, AppState};
use crate::parties::{Party, PartyKind};
use crate::parties::{company_reference, individual_reference};

/// Access trail entries a document page shows, the newest.
const TRAIL_SHOWN: usize = 200;
/// Documents a client page lists; search pages further.
const CLIENT_PAGE_DOCUMENTS: u32 = 200;

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("archive records serialise")
}

fn documents_table(documents: &[Document]) -> Markup {
    if documents.is_empty() {
        return html! { p { "Aucun document." } };
    }
    html! {
        table {
            thead { tr { th scope="col" { "Date" } th scope="col" { "Type" } th scope="col" { "Sens" } th scope="col" { "Titre" } th scope="col" { "Parties" } th scope="col" { "Dossiers" } } }
            tbody { @for document in documents {
                tr {
                    td { (format::date(&document.document_date)) }
                    td { (document.document_type) }
                    td { (format::direction(document.direction.as_str())) }
                    td { a href=(format!("/ui/documents/{}", document.id)) { (document.title.as_deref().unwrap_or("(sans titre)")) } }
                    td { (parties(&json(&document.individuals), &json(&document.companies))) }
                    td { @for dossier in &document.dossiers {
                        a href=(format!("/ui/dossiers/{}", format::segment(&dossier.reference))) { (dossier.reference) } " "
                    } }
                }
            } }
        }
    }
}

fn dossiers_table(dossiers: &[Dossier]) -> Markup {
    if dossiers.is_empty() {
        return html! { p { "Aucun dossier." } };
    }
    html! {
        table {
            thead { tr { th scope="col" { "Référence" } th scope="col" { "Nature" } th scope="col" { "Catégorie" } th scope="col" { "Statut" } th scope="col" { "Ouvert le" } th scope="col" { "Documents" } } }
            tbody { @for dossier in dossiers {
                tr {
                    td { a href=(format!("/ui/dossiers/{}", format::segment(&dossier.reference))) { (dossier.reference) } }
                    td { (format::dossier_kind(dossier.kind.as_str())) }
                    td { (dossier.category) }
                    td.statut { (format::dossier_status(dossier.status.as_str())) }
                    td { (format::instant(&dossier.opened_at)) }
                    td { (dossier.document_count) }
                }
            } }
        }
    }
}

/// Text shown in the page is read here, up to this size; larger text is downloaded.
const MAX_SHOWN_TEXT: u64 = 1024 * 1024;

/// What the browser can show in the page (images and PDFs in its own viewer, emails and text
/// as text); other types are downloaded.
fn viewer(document: &Document, text: Option<&str>) -> Markup {
    let content = format!("/api/v1/documents/{}/content", document.id);
    let title = document.title.as_deref().unwrap_or("Document");
    html! {
        @if let Some(text) = text {
            pre.visionneuse style="overflow:auto;white-space:pre-wrap" tabindex="0" aria-label=(format!("Contenu : {title}")) { (text) }
        } @else {
            @match document.media_type.as_str() {
                "image/png" | "image/jpeg" => img.visionneuse src=(content) alt=(title);
                "application/pdf" => iframe.visionneuse src=(content) title=(format!("Contenu : {title}")) {}
                _ => p { "Ce format (" (document.media_type) ") ne s'affiche pas dans le navigateur : téléchargez-le." }
            }
        }
        p { a href=(content) download=(document.file_name.as_deref().unwrap_or("document")) { "Télécharger le document" } }
    }
}

pub async fn document(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let scope = session.caller.require(Permission::ReadMetadata)?;
        let id = DocumentId::parse(&id).ok_or(ApiError::NotFound)?;
        let document = state
            .archive
            .view_document(&scope, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let trail = match session.caller.require(Permission::ReadAudit) {
            Ok(auditor) => {
                let filter = AuditFilter {
                    document: Some(id),
                    limit: 1000,
                    ..Default::default()
                };
                let mut trail = state.archive.catalog.audit_trail(&auditor, &filter).await?;
                // The newest first: what an auditor looks for.
                trail.reverse();
                trail.truncate(TRAIL_SHOWN);
                Some(trail)
            }
            Err(_) => None,
        };
        let textual = document.media_type == "text/plain" && document.size <= MAX_SHOWN_TEXT;
        let text = match session.caller.require(Permission::ReadContent) {
            // An email shows its body as read when it was archived, not its MIME source.
            Ok(reader) if document.media_type == "message/rfc822" => {
                state.archive.read_text(&reader, id).await?
            }
            Ok(reader) if textual => {
                let mut stream = state
                    .archive
                    .read_content(&reader, &document, 0..document.size)
                    .await?;
                let mut bytes = Vec::with_capacity(document.size as usize);
                while let Some(piece) = stream.next().await {
                    bytes.extend_from_slice(&piece.map_err(|e| ApiError::Internal(e.into()))?);
                }
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            _ => None,
        };
        Ok::<_, ApiError>((document, trail, text))
    }
    .await;
    let (document, trail, text) = match result {
        Ok(found) => found,
        Err(error) => return error_page(Some(&session), error),
    };
    let reads_content = session.caller.role.allows(Permission::ReadContent);
    let manages = session.caller.role.allows(Permission::ManageDossiers);
    let title = document.title.clone().unwrap_or_else(|| "Document".into());
    let body = html! {
        dl {
            dt { "Date du document" } dd { (format::date(&document.document_date)) }
            dt { "Type" } dd { (document.document_type) }
            dt { "Sens" } dd { (format::direction(document.direction.as_str())) }
            dt { "Canal" } dd { (document.channel.as_str()) }
            dt { "Source" } dd { (document.source) }
            @if let Some(agent) = &document.agent { dt { "Gestionnaire" } dd { (agent) } }
            @if let Some(received) = &document.received_at { dt { "Reçu le" } dd { (format::instant(received)) } }
            dt { "Archivé le" } dd { (format::instant(&document.archived_at)) }
            @if let Some(batch) = &document.batch_ref { dt { "Lot" } dd { (batch) } }
            dt { "Parties" } dd { (parties(&json(&document.individuals), &json(&document.companies))) }
            dt { "Empreinte SHA-256" } dd { code { (document.sha256) } }
            @if let Some(state) = &document.text {
                dt { "Texte" } dd {
                    (format::text_state(state))
                    @if reads_content && state.status == TextStatus::Done && !matches!(document.media_type.as_str(), "message/rfc822" | "text/plain") {
                        " — " a href=(format!("/api/v1/documents/{}/text", document.id)) { "lire le texte extrait" }
                    }
                }
            }
            @if let Some(email) = &document.attached_to {
                dt { "Pièce jointe du courriel" } dd { a href=(format!("/ui/documents/{email}")) { "ouvrir le courriel" } }
            }
        }
        @if let Some(email) = &document.email {
            h2 { "Courriel" }
            dl {
                @if let Some(from) = &email.from { dt { "De" } dd { (from) } }
                @if !email.to.is_empty() { dt { "À" } dd { (email.to.join(", ")) } }
                @if !email.cc.is_empty() { dt { "Copie" } dd { (email.cc.join(", ")) } }
                @if let Some(subject) = &email.subject { dt { "Objet" } dd { (subject) } }
                @if let Some(date) = &email.date { dt { "Envoyé le" } dd { (format::instant(date)) } }
            }
        }
        @if !document.attachments.is_empty() {
            h2 { "Pièces jointes" }
            ul { @for attachment in &document.attachments {
                li {
                    a href=(format!("/ui/documents/{}", attachment.id)) { (attachment.file_name.as_deref().unwrap_or("(sans nom)")) }
                    " — " (attachment.media_type) ", " (format::size(attachment.size))
                }
            } }
        }
        @if reads_content { (viewer(&document, text.as_deref())) }
        h2 { "Dossiers" }
        @if document.dossiers.is_empty() { p { "Ce document n'est rattaché à aucun dossier." } }
        ul { @for dossier in &document.dossiers {
            li {
                a href=(format!("/ui/dossiers/{}", format::segment(&dossier.reference))) { (dossier.reference) }
                " — " (dossier.category) ", " (format::dossier_status(dossier.status.as_str()))
                ", rattaché le " (format::instant(&dossier.linked_at))
                @if manages {
                    form method="post" action=(format!("/ui/documents/{}/dossiers/retirer", document.id)) style="display:inline" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="reference" value=(dossier.reference);
                        " " button type="submit" { "Retirer du dossier " (dossier.reference) }
                    }
                }
            }
        } }
        @if manages {
            form method="post" action=(format!("/ui/documents/{}/dossiers", document.id)) {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="reference" { "Rattacher à un dossier (référence)" }
                input id="reference" name="reference" required pattern="[A-Za-z0-9][A-Za-z0-9_.:\\-]{0,63}";
                button type="submit" { "Rattacher" }
            }
        }
        @if let Some(trail) = &trail {
            h2 { "Traçabilité des accès" }
            table {
                thead { tr { th scope="col" { "Quand" } th scope="col" { "Qui (jeton)" } th scope="col" { "Action" } } }
                tbody { @for entry in trail { tr { td { (format::instant(&entry.at)) } td { code { (entry.actor) } } td { (entry.action) } } } }
            }
        }
    };
    html_response(StatusCode::OK, layout(&title, Some(&session), body))
}

#[derive(Deserialize)]
pub struct LinkForm {
    csrf: String,
    reference: String,
}

async fn change_link(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    id: &str,
    form: &LinkForm,
    linking: bool,
) -> Response {
    if let Some(refused) = csrf_refusal(session, headers, &form.csrf) {
        return refused;
    }
    let result = async {
        let scope = session.caller.require(Permission::ManageDossiers)?;
        let document = DocumentId::parse(id).ok_or(ApiError::NotFound)?;
        let reference = form.reference.trim();
        let catalog = &state.archive.catalog;
        let changed = if linking {
            catalog
                .link_document(&scope, reference, document)
                .await?
                .is_some()
        } else {
            catalog
                .unlink_document(&scope, reference, document)
                .await?
                .is_some()
        };
        if !changed {
            return Err(ApiError::NotFound);
        }
        Ok(())
    }
    .await;
    match result {
        // After a post, a redirection: reloading the page does not post again.
        Ok(()) => Redirect::to(&format!("/ui/documents/{id}")).into_response(),
        Err(error) => error_page(Some(session), error),
    }
}

pub async fn link(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    change_link(&state, &session, &headers, &id, &form, true).await
}

pub async fn unlink(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<LinkForm>,
) -> Response {
    change_link(&state, &session, &headers, &id, &form, false).await
}

pub async fn dossier(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(reference): Path<String>,
) -> Response {
    let timeline = match session.caller.require(Permission::ReadDossiers) {
        Ok(scope) => match state.archive.dossier_timeline(&scope, &reference).await {
            Ok(Some(timeline)) => Ok(timeline),
            Ok(None) => Err(ApiError::NotFound),
            Err(error) => Err(error.into()),
        },
        Err(error) => Err(error.into()),
    };
    let timeline = match timeline {
        Ok(timeline) => timeline,
        Err(error) => return error_page(Some(&session), error),
    };
    let dossier = &timeline.dossier;
    let body = html! {
        dl {
            dt { "Nature" } dd { (format::dossier_kind(dossier.kind.as_str())) }
            dt { "Catégorie" } dd { (dossier.category) }
            dt { "Statut" } dd.statut { (format::dossier_status(dossier.status.as_str())) }
            dt { "Ouvert le" } dd { (format::instant(&dossier.opened_at)) }
            @if let Some(agent) = &dossier.agent { dt { "Gestionnaire" } dd { (agent) } }
            @if let Some(title) = &dossier.title { dt { "Objet" } dd { (title) } }
            @if let Some(follows) = &dossier.follows { dt { "Fait suite à" } dd { a href=(format!("/ui/dossiers/{}", format::segment(follows))) { (follows) } } }
            dt { "Parties" } dd { (parties(&json(&dossier.individuals), &json(&dossier.companies))) }
        }
        h2 { "Historique du statut" }
        ul { @for change in &dossier.status_history {
            li { (format::dossier_status(change.status.as_str())) " — " (format::instant(&change.at)) ", par " code { (change.by) }
                @if let Some(reason) = &change.reason { " : " (reason) } }
        } }
        h2 { "Courriers entrants et sortants" }
        (documents_table(&timeline.documents))
    };
    html_response(
        StatusCode::OK,
        layout(&format!("Dossier {reference}"), Some(&session), body),
    )
}

fn party_heading(party: &Party) -> String {
    match party.kind {
        PartyKind::Individual => [party.last_name.as_deref(), party.first_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        PartyKind::Company => party.name.clone().unwrap_or_else(|| "Entreprise".into()),
    }
}

async fn client_page(
    state: &AppState,
    session: &Session,
    kind: PartyKind,
    reference: &str,
) -> Response {
    let view = async {
        let scope = session.caller.require(Permission::ReadMetadata)?;
        let (reference_kind, value) = match kind {
            PartyKind::Individual => individual_reference(reference),
            PartyKind::Company => company_reference(reference)?,
        };
        state
            .archive
            .client_view(&scope, kind, reference_kind, &value, CLIENT_PAGE_DOCUMENTS)
            .await?
            .ok_or(ApiError::NotFound)
    }
    .await;
    let view = match view {
        Ok(view) => view,
        Err(error) => return error_page(Some(session), error),
    };
    let party = &view.party;
    let exports =
        kind == PartyKind::Individual && session.caller.role.allows(Permission::ReadContent);
    let body = html! {
        dl {
            @if let Some(nir) = &party.nir { dt { "NIR" } dd { (format::nir(nir)) } }
            @if !party.client_numbers.is_empty() { dt { "Numéros client" } dd { (party.client_numbers.join(", ")) } }
            @if let Some(birth) = &party.birth_date { dt { "Né(e) le" } dd { (format::date(birth)) } }
            @if let Some(siren) = &party.siren { dt { "SIREN" } dd { (format::siren_or_siret(siren)) } }
            @if !party.sirets.is_empty() { dt { "SIRET" } dd { @for siret in &party.sirets { (format::siren_or_siret(siret)) " " } } }
            @if !party.company_numbers.is_empty() { dt { "Numéros d'entreprise" } dd { (party.company_numbers.join(", ")) } }
        }
        @if exports {
            p { a href=(format!("/api/v1/individuals/{}/export", format::segment(reference))) download { "Exporter toutes ses données (droit d'accès RGPD)" } }
        }
        h2 { "Dossiers" }
        (dossiers_table(&view.dossiers))
        h2 { "Documents (" (view.documents_total) ")" }
        (documents_table(&view.documents))
        @if view.documents_total > view.documents.len() as u64 {
            p { "Les " (view.documents.len()) " plus récents sont affichés ; la recherche trouve les autres." }
        }
    };
    let heading = party_heading(party);
    let title = if heading.trim().is_empty() {
        reference.to_string()
    } else {
        heading
    };
    html_response(StatusCode::OK, layout(&title, Some(session), body))
}

pub async fn individual(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(reference): Path<String>,
) -> Response {
    client_page(&state, &session, PartyKind::Individual, &reference).await
}

pub async fn company(
    State(state): State<Arc<AppState>>,
    session: Session,
    Path(reference): Path<String>,
) -> Response {
    client_page(&state, &session, PartyKind::Company, &reference).await
}

#[derive(Deserialize)]
pub struct BatchDay {
    jour: Option<String>,
}

/// The supervisor's page: the batches received one day, with their counts and rejections.
pub async fn batches(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(query): Query<BatchDay>,
) -> Response {
    let today = time::OffsetDateTime::now_utc().date();
    let day = query
        .jour
        .as_deref()
        .and_then(|text| parse_date(text).ok())
        .unwrap_or(today);
    let result = async {
        let scope = session.caller.require(Permission::ReadBatches)?;
        let start = day.midnight().assume_utc();
        let filter = BatchFilter {
            from: Some(format_timestamp(start)),
            to: Some(format_timestamp(start + time::Duration::days(1))),
            limit: 1000,
            ..Default::default()
        };
        let catalog = &state.archive.catalog;
        let mut batches = Vec::new();
        for summary in catalog.batches(&scope, &filter).await? {
            let rejected = if summary.totals.rejected > 0 {
                catalog
                    .batch_documents(&scope, &summary.id)
                    .await?
                    .into_iter()
                    .filter(|d| !d.errors.is_empty())
                    .collect()
            } else {
                Vec::new()
            };
            batches.push((summary, rejected));
        }
        Ok::<_, ApiError>(batches)
    }
    .await;
    let batches = match result {
        Ok(batches) => batches,
        Err(error) => return error_page(Some(&session), error),
    };
    let day_text = crate::dates::format_date(day);
    let body = html! {
        form method="get" action="/ui/lots" {
            label for="jour" { "Jour de réception" }
            input id="jour" name="jour" type="date" value=(day_text);
            button type="submit" { "Afficher" }
        }
        table {
            thead { tr { th scope="col" { "Lot" } th scope="col" { "Source" } th scope="col" { "Reçu le" } th scope="col" { "Statut" } th scope="col" { "Documents" } th scope="col" { "Archivés" } th scope="col" { "Déjà archivés" } th scope="col" { "Rejetés" } } }
            tbody { @for (summary, rejected) in &batches {
                tr {
                    td { (summary.batch_ref) } td { (summary.source) } td { (format::instant(&summary.received_at)) }
                    td { (if summary.status == "completed" { "Terminé" } else { "En cours" }) }
                    td { (summary.totals.documents) } td { (summary.totals.archived) } td { (summary.totals.already_archived) } td { (summary.totals.rejected) }
                }
                @if !rejected.is_empty() {
                    tr { td colspan="8" { ul.erreur { @for document in rejected {
                        li { (document.file) " : " @for error in &document.errors { code { (error.field) } " " (error.message) "; " } }
                    } } } }
                }
            } }
        }
    };
    html_response(
        StatusCode::OK,
        layout(
            &format!("Lots du {}", format::date(&day_text)),
            Some(&session),
            body,
        ),
    )
}
