//! `ged token`: issue, list and revoke bearer tokens, on the data folder directly (an operator
//! issues the first tokens before any agent can call the API).

use std::process::ExitCode;

use clap::Subcommand;

use crate::access::tokens::{self, TokenError, TokenRequest};
use crate::access::{Role, Scope, TenantId};
use crate::catalog::Catalog;
use crate::config::Settings;

#[derive(Subcommand)]
pub(super) enum TokenCommand {
    /// Issue a token; prints the token alone on standard output (it is stored only as a hash).
    Create {
        /// The organisation the token belongs to (created if new).
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: Role,
        /// A label for the token's holder.
        #[arg(long)]
        name: Option<String>,
        /// The only source a scanner (required) or outbound token archives for.
        #[arg(long)]
        source: Option<String>,
        /// Lifetime, such as 90d or 12h; no expiry when absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

pub(super) async fn run(settings: Settings, command: TokenCommand) -> anyhow::Result<ExitCode> {
    if settings.archive_missing() {
        // Not an error (tokens may be issued before the first start), but never silent: a
        // token issued in the wrong folder would be refused by the server.
        eprintln!(
            "ged: no archive in {}: creating a new one there",
            settings.data_dir.display()
        );
    }
    let catalog = crate::startup::open_catalog(&settings).await?;
    let catalog = catalog.as_ref();
    match command {
        TokenCommand::Create {
            tenant,
            role,
            name,
            source,
            expires,
        } => {
            let request = TokenRequest {
                role,
                name,
                source,
                expires_in: expires,
            };
            create(catalog, &tenant, request).await
        }
        TokenCommand::List { tenant } => list(catalog, tenant.as_deref()).await,
        TokenCommand::Revoke { id } => revoke(catalog, &id).await,
    }
}

/// Prints the token alone, so that a script can capture it; a refused field is named by its
/// flag.
async fn create(
    catalog: &dyn Catalog,
    tenant: &str,
    request: TokenRequest,
) -> anyhow::Result<ExitCode> {
    let tenant = TenantId::parse(tenant).map_err(anyhow::Error::msg)?;
    catalog.ensure_tenant(&tenant).await?;
    match tokens::issue(catalog, &Scope::operator(tenant), request).await {
        Ok(issued) => println!("{}", issued.token),
        Err(TokenError::Invalid(errors)) => {
            for error in errors.0 {
                eprintln!("ged: --{} {}", error.field, error.message);
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(TokenError::Catalog(error)) => return Err(error.into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per token, in columns; the secrets are not stored, so never shown.
async fn list(catalog: &dyn Catalog, tenant: Option<&str>) -> anyhow::Result<ExitCode> {
    let tenant = tenant
        .map(TenantId::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    println!(
        "{:<36}  {:<16}  {:<15}  {:<12}  {:<27}  {:<27}  name",
        "id", "tenant", "role", "source", "expires", "revoked"
    );
    for token in catalog.tokens(tenant.as_ref()).await? {
        println!(
            "{:<36}  {:<16}  {:<15}  {:<12}  {:<27}  {:<27}  {}",
            token.id,
            token.tenant.as_str(),
            token.role.as_str(),
            token.source.as_deref().unwrap_or("-"),
            token.expires_at.as_deref().unwrap_or("never"),
            token.revoked_at.as_deref().unwrap_or("-"),
            token.name.as_deref().unwrap_or(""),
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn revoke(catalog: &dyn Catalog, id: &str) -> anyhow::Result<ExitCode> {
    let Some(token) = catalog.tokens(None).await?.into_iter().find(|t| t.id == id) else {
        anyhow::bail!("no token with id {id}");
    };
    if !catalog
        .revoke_token(&Scope::operator(token.tenant), id)
        .await?
    {
        anyhow::bail!("token {id} was already revoked");
    }
    println!("revoked {id}");
    Ok(ExitCode::SUCCESS)
}
