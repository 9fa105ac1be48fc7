//! The agents' web UI, in French, rendered on the server (no front-end build): sign-in,
//! "Recherche individu", "Recherche entreprise", document, dossier, client and batch pages.
//!
//! Pages act with the signed-in token's scope, through the same functions as the API (search,
//! timeline, client view, document view, all audited the same way). A browser loads content and
//! exports from the API's own endpoints, which accept the session cookie for reads; forms that
//! change something post to the UI, which checks the session's CSRF secret.

mod format;
mod pages;
mod search;
mod signin;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use crate::access::Permission;
use crate::access::session::{self, Session};
use crate::http::{ApiError, AppState};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/ui",
            get(|| async { Redirect::to("/ui/recherche/individu") }),
        )
        .route("/ui/connexion", get(signin::form).post(signin::sign_in))
        .route("/ui/deconnexion", post(signin::sign_out))
        .route("/ui/recherche/individu", get(search::individual))
        .route("/ui/recherche/entreprise", get(search::company))
        .route("/ui/documents/{id}", get(pages::document))
        .route("/ui/documents/{id}/dossiers", post(pages::link))
        .route("/ui/documents/{id}/dossiers/retirer", post(pages::unlink))
        .route("/ui/dossiers/{reference}", get(pages::dossier))
        .route("/ui/individus/{reference}", get(pages::individual))
        .route("/ui/entreprises/{reference}", get(pages::company))
        .route("/ui/lots", get(pages::batches))
        .route("/ui/style.css", get(|| async { asset("text/css", CSS) }))
        .route(
            "/ui/nir.js",
            get(|| async { asset("text/javascript", NIR_CHECK) }),
        )
}

/// The NIR check, served as a file: the pages' policy allows no inline script.
const NIR_CHECK: &str = include_str!("nir.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            ("content-type", content_type),
            ("cache-control", "public, max-age=3600"),
            ("x-content-type-options", "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// Where a signed-in user starts: the search for those who search, the batches otherwise.
fn home(session: &Session) -> &'static str {
    if session.caller.role.allows(Permission::Search) {
        "/ui/recherche/individu"
    } else {
        "/ui/lots"
    }
}

/// A form posted from another site (login CSRF, a forged link or unlink) is refused even
/// before its secret is checked: browsers say where a request comes from.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    if !matches!(fetch_site, "same-origin" | "none") {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, authority)| authority != host),
        _ => false,
    }
}

/// A page's reader: the session, or a redirection to the sign-in page.
impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        match session::current(state, &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(Redirect::to("/ui/connexion").into_response()),
            Err(error) => Err(error_page(None, error)),
        }
    }
}

/// The refusal of a form whose secret is not the session's, or that comes from another site.
fn csrf_refusal(session: &Session, headers: &HeaderMap, sent: &str) -> Option<Response> {
    let expected = session.csrf.as_bytes();
    let sent = sent.as_bytes();
    // Compared in full whatever the first difference, so timing tells nothing.
    let same = expected.len() == sent.len()
        && expected
            .iter()
            .zip(sent)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0;
    (!same || cross_site(headers)).then(|| {
        message_page(
            Some(session),
            StatusCode::FORBIDDEN,
            "Formulaire expiré",
            "Ce formulaire ne vient pas de cette session. Rechargez la page et recommencez.",
        )
    })
}

/// Only this site's own files; no inline script, no plugin, no framing by other sites.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

const CSS: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff;line-height:1.45}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#000091;color:#fff;padding:.5rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff;font-weight:600}header form{margin-left:auto}
main{padding:1rem;max-width:75rem}
a{color:#000091}a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffbf47}
form.criteria{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.6rem 1rem;align-items:end}
label{display:block;font-weight:600;font-size:.9rem}input,select{font:inherit;padding:.3rem;width:100%;box-sizing:border-box;border:1px solid #666}
input[aria-invalid=true]{border:2px solid #ce0500}.aide{font-size:.85rem;color:#3a3a3a;min-height:1.2em}.erreur{color:#ce0500}
button{font:inherit;background:#000091;color:#fff;border:0;padding:.4rem 1rem;cursor:pointer}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #ccc;text-align:left;padding:.35rem;vertical-align:top}
th{background:#f0f0f0}.facettes{display:flex;gap:2rem;flex-wrap:wrap;font-size:.9rem}.facettes ul{padding-left:1rem;margin:.2rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
.visionneuse{width:100%;height:70vh;border:1px solid #ccc}.statut{font-weight:600}
";

/// The frame of every page.
fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — GED" }
                link rel="stylesheet" href="/ui/style.css";
            }
            body {
                a.skip href="#contenu" { "Aller au contenu" }
                header {
                    strong { "GED" }
                    @if let Some(session) = session {
                        nav aria-label="Navigation principale" {
                            @if session.caller.role.allows(Permission::Search) {
                                a href="/ui/recherche/individu" { "Recherche individu" } " · "
                                a href="/ui/recherche/entreprise" { "Recherche entreprise" } " "
                            }
                            @if session.caller.role.allows(Permission::ReadBatches) {
                                a href="/ui/lots" { "Lots" }
                            }
                        }
                        form method="post" action="/ui/deconnexion" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Se déconnecter" }
                        }
                    }
                }
                main id="contenu" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            // Personal data: shared office PCs must not keep a copy; no framing by other sites.
            ("cache-control", "private, no-store"),
            ("x-frame-options", "SAMEORIGIN"),
            ("content-security-policy", CONTENT_SECURITY_POLICY),
            // Search URLs hold NIRs: other sites never see them as referrers. (Not
            // `no-referrer`: forms would then post with `Origin: null`.)
            ("referrer-policy", "same-origin"),
            ("x-content-type-options", "nosniff"),
        ],
        markup.into_string(),
    )
        .into_response()
}

fn message_page(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    html_response(status, layout(title, session, html! { p { (message) } }))
}

/// An API error as a page agents can read.
fn error_page(session: Option<&Session>, error: ApiError) -> Response {
    match error {
        ApiError::NotFound => message_page(
            session,
            StatusCode::NOT_FOUND,
            "Introuvable",
            "Rien ne correspond à cette adresse dans ce que vous pouvez consulter.",
        ),
        ApiError::Forbidden { .. } => message_page(
            session,
            StatusCode::FORBIDDEN,
            "Accès refusé",
            "Votre rôle ne permet pas cette action.",
        ),
        ApiError::Invalid(errors) => html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout(
                "Saisie à corriger",
                session,
                html! {
                    ul.erreur { @for error in &errors.0 { li { code { (error.field) } " : " (error.message) } } }
                    p { "Revenez à la page précédente pour corriger." }
                },
            ),
        ),
        ApiError::Conflict { message, .. } => {
            message_page(session, StatusCode::CONFLICT, "Impossible", &message)
        }
        other => {
            let status = other.into_response().status();
            message_page(
                session,
                status,
                "Erreur",
                "L'archive n'a pas pu répondre. L'incident est journalisé ; réessayez plus tard.",
            )
        }
    }
}
