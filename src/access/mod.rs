//! Who is calling, and what they may do and see.
//!
//! A request carries a bearer token; the token names a tenant and a role. A handler turns the
//! [`Caller`] into a [`Scope`] by asking for the one [`Permission`] it needs: that is the only
//! way to obtain a `Scope`, and every catalog and index query takes one, which applies the
//! tenant filter and the visibility of sensitive mail. So the policy lives here and in the
//! catalog, never in a handler's own `if`.

mod extract;
pub mod http;
pub mod refusals;
pub mod session;
mod token_record;
pub mod tokens;

pub use token_record::TokenRecord;

use serde::{Deserialize, Serialize};

use crate::documents::model::{Direction, DocumentMetadata};

/// The tenant of a fresh embedded archive.
pub const DEFAULT_TENANT: &str = "default";

/// An organisation sharing the archive; documents, parties and tokens belong to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// A tenant id is a code: letters, digits, `_.:-`, at most 64 characters.
    pub fn parse(input: &str) -> Result<Self, String> {
        if crate::validation::is_code(input) {
            Ok(Self(input.to_string()))
        } else {
            Err(format!(
                "tenant {input:?} is not a code of letters, digits and _.:- (64 at most)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a token may do. See the role table in docs/access-control.md.
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
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Role {
    /// Searches and reads its tenant's documents, except sensitive ones.
    Agent,
    /// Like `agent`, sensitive mail included.
    AgentSensitive,
    /// A scanning centre: archives inbound documents for its own source; reads nothing.
    Scanner,
    /// The print centre or email gateway: archives outbound documents for its own source.
    Outbound,
    /// Reads the audit trail and document metadata; never content.
    Auditor,
    /// Manages its tenant's tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::AgentSensitive => "agent_sensitive",
            Self::Scanner => "scanner",
            Self::Outbound => "outbound",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "agent" => Self::Agent,
            "agent_sensitive" => Self::AgentSensitive,
            "scanner" => Self::Scanner,
            "outbound" => Self::Outbound,
            "auditor" => Self::Auditor,
            "admin" => Self::Admin,
            _ => return None,
        })
    }

    /// The single table of who may do what.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ArchiveDocument => matches!(self, Scanner | Outbound),
            ReadMetadata => matches!(self, Agent | AgentSensitive | Auditor),
            ReadContent => matches!(self, Agent | AgentSensitive),
            Search => matches!(self, Agent | AgentSensitive),
            ReadAudit => matches!(self, Auditor),
            ManageTokens => matches!(self, Admin),
            ReadBatches => matches!(self, Scanner | Outbound | Auditor),
            ReadDossiers => matches!(self, Agent | AgentSensitive | Auditor),
            ManageDossiers => matches!(self, Agent | AgentSensitive),
            ConfigureTenant => matches!(self, Admin),
            // Administrators manage tokens through the API and the command line.
            UseWebUi => !matches!(self, Admin),
        }
    }

    /// Whether documents marked sensitive are visible at all (elsewhere they do not exist).
    pub fn sees_sensitive(self) -> bool {
        matches!(self, Self::AgentSensitive | Self::Auditor)
    }
}

/// One thing a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ArchiveDocument,
    ReadMetadata,
    ReadContent,
    Search,
    ReadAudit,
    ManageTokens,
    /// Batch reports: the centres read their own source's, auditors every one of the tenant.
    ReadBatches,
    ReadDossiers,
    /// Create dossiers, change their status, link and unlink documents.
    ManageDossiers,
    /// The tenant's settings, such as its dossier categories.
    ConfigureTenant,
    /// Open a web UI session (what its pages show is then checked page by page).
    UseWebUi,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No token, an unknown one, a revoked or an expired one (HTTP 401).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The token's role does not allow this (HTTP 403).
    #[error("{message}")]
    Forbidden {
        field: Option<String>,
        message: String,
    },
}

/// An authenticated caller, before it has asked for anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub tenant: TenantId,
    pub role: Role,
    /// For scanning centres and outbound systems (required for them): the only source they
    /// archive for.
    pub source: Option<String>,
}

impl Caller {
    /// The scope for `permission`, or a refusal.
    pub fn require(&self, permission: Permission) -> Result<Scope, AccessError> {
        if !self.role.allows(permission) {
            return Err(AccessError::Forbidden {
                field: None,
                message: format!("the role {} does not allow this", self.role.as_str()),
            });
        }
        Ok(self.scope())
    }

    /// The scope that records what the caller attempted and was refused, whatever its role
    /// allows: the refusal belongs to the caller's tenant's trail.
    pub(crate) fn scope(&self) -> Scope {
        Scope {
            tenant: self.tenant.clone(),
            actor: self.token_id.clone(),
            role: self.role,
            source: self.source.clone(),
        }
    }
}

/// The reach of one permitted request: which tenant, as whom, seeing what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    tenant: TenantId,
    actor: String,
    role: Role,
    source: Option<String>,
}

impl Scope {
    /// The operator at the command line (`ged token …`), who has the data folder in hand and
    /// administers any tenant. Never built from a request.
    pub fn operator(tenant: TenantId) -> Self {
        Self {
            tenant,
            actor: "cli".to_string(),
            role: Role::Admin,
            source: None,
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Who the audit log records: a token id, or `cli`.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Whether the scope's role may also do this (a search that shows document text).
    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub fn sees_sensitive(&self) -> bool {
        self.role.sees_sensitive()
    }

    /// The one source a scanning centre's or outbound system's token works for: what it
    /// reads of batches is limited to it.
    pub fn bound_source(&self) -> Option<&str> {
        match self.role {
            Role::Scanner | Role::Outbound => Some(self.source.as_deref().unwrap_or_default()),
            _ => None,
        }
    }

    /// Scanning centres archive inbound mail, outbound systems outbound mail, each for the
    /// one source its token is bound to.
    pub fn check_archive(&self, metadata: &DocumentMetadata) -> Result<(), AccessError> {
        let expected_direction = match self.role {
            Role::Scanner => Direction::Inbound,
            Role::Outbound => Direction::Outbound,
            _ => {
                return Err(AccessError::Forbidden {
                    field: None,
                    message: "this role does not archive documents".into(),
                });
            }
        };
        if metadata.direction != expected_direction {
            return Err(forbidden_field(
                "direction",
                format!(
                    "a {} token archives {} documents only",
                    self.role.as_str(),
                    expected_direction.as_str()
                ),
            ));
        }
        let Some(source) = &self.source else {
            return Err(forbidden_field(
                "source",
                "this token is bound to no source".into(),
            ));
        };
        if *source != metadata.source {
            return Err(forbidden_field(
                "source",
                format!("this token archives for the source {source} only"),
            ));
        }
        Ok(())
    }
}

fn forbidden_field(field: &str, message: String) -> AccessError {
    AccessError::Forbidden {
        field: Some(field.to_string()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_roles_hold_each_permission() {
        use Permission::*;
        let holders = |permission| {
            [
                Role::Agent,
                Role::AgentSensitive,
                Role::Scanner,
                Role::Outbound,
                Role::Auditor,
                Role::Admin,
            ]
            .into_iter()
            .filter(|role| role.allows(permission))
            .collect::<Vec<_>>()
        };
        assert_eq!(holders(ArchiveDocument), [Role::Scanner, Role::Outbound]);
        assert_eq!(holders(ReadContent), [Role::Agent, Role::AgentSensitive]);
        assert_eq!(holders(Search), [Role::Agent, Role::AgentSensitive]);
        assert_eq!(
            holders(ReadMetadata),
            [Role::Agent, Role::AgentSensitive, Role::Auditor]
        );
        assert_eq!(holders(ReadAudit), [Role::Auditor]);
        assert_eq!(holders(ManageTokens), [Role::Admin]);
        assert_eq!(
            holders(ReadBatches),
            [Role::Scanner, Role::Outbound, Role::Auditor]
        );
        assert_eq!(
            holders(ReadDossiers),
            [Role::Agent, Role::AgentSensitive, Role::Auditor]
        );
        assert_eq!(holders(ManageDossiers), [Role::Agent, Role::AgentSensitive]);
        assert_eq!(holders(ConfigureTenant), [Role::Admin]);
        assert_eq!(
            holders(UseWebUi),
            [
                Role::Agent,
                Role::AgentSensitive,
                Role::Scanner,
                Role::Outbound,
                Role::Auditor
            ]
        );
    }

    #[test]
    fn tenant_ids_are_codes() {
        assert!(TenantId::parse("caisse-retraite_01").is_ok());
        assert!(TenantId::parse("").is_err());
        assert!(TenantId::parse("-x").is_err());
        assert!(TenantId::parse("a b").is_err());
    }
}
