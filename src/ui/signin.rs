//! Signing in with a token, and out.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::{cross_site, csrf_refusal, error_page, home, html_response, layout};
use crate::access::session::{self, Session};
use crate::http::AppState;

fn form_page(status: StatusCode, problem: Option<&str>) -> Response {
    html_response(
        status,
        layout(
            "Connexion",
            None,
            html! {
                p { "Connectez-vous avec le jeton que votre administrateur vous a remis." }
                form method="post" action="/ui/connexion" {
                    label for="jeton" { "Jeton" }
                    input id="jeton" name="token" type="password" autocomplete="off" required
                        aria-describedby="jeton-aide";
                    p.aide.erreur id="jeton-aide" role="alert" { @if let Some(problem) = problem { (problem) } }
                    button type="submit" { "Se connecter" }
                }
            },
        ),
    )
}

pub async fn form() -> Response {
    form_page(StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(input): Form<SignIn>,
) -> Response {
    // Another site must not sign a browser into a token of its choosing.
    if cross_site(&headers) {
        return form_page(
            StatusCode::FORBIDDEN,
            Some("connexion refusée : formulaire d'un autre site"),
        );
    }
    // A new sign-in replaces the session the browser may still hold.
    if let Err(error) = session::close(&state, &headers).await {
        return error_page(None, error);
    }
    match session::open(&state, &input.token).await {
        Ok(Ok((cookie, session))) => {
            ([(header::SET_COOKIE, cookie)], Redirect::to(home(&session))).into_response()
        }
        Ok(Err(problem)) => form_page(StatusCode::UNAUTHORIZED, Some(problem)),
        Err(error) => error_page(None, error),
    }
}

#[derive(Deserialize)]
pub struct SignOut {
    csrf: String,
}

pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    current: Session,
    headers: HeaderMap,
    Form(input): Form<SignOut>,
) -> Response {
    if let Some(refused) = csrf_refusal(&current, &headers, &input.csrf) {
        return refused;
    }
    if let Err(error) = session::close(&state, &headers).await {
        return error_page(Some(&current), error);
    }
    (
        [(header::SET_COOKIE, session::cleared_cookie())],
        Redirect::to("/ui/connexion"),
    )
        .into_response()
}
