//! The catalog conformance suite on PostgreSQL: the integration tests that exercise the
//! catalog (archiving, access, audit, batches, dossiers, parties, search, text, validation,
//! verification, web UI sessions) run here unchanged on a PostgreSQL catalog, each test on a database of its
//! own; `tests/api` runs them on SQLite. See `tests/api/helpers.rs` for where the databases
//! live and how the suite says it was skipped without a server.
//!
//! Left out: tests of the SQLite file itself (copies, kill -9 during its writes), of the
//! content store and of configuration, which no catalog changes.

// The helpers serve every test module of `tests/api`; some of them are not part of this suite.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

#[path = "../api/access.rs"]
mod access;
#[path = "../api/archive.rs"]
mod archive;
#[path = "../api/audit.rs"]
mod audit;
#[path = "../api/batches.rs"]
mod batches;
#[path = "../api/cancelled.rs"]
mod cancelled;
#[path = "../api/disclosure.rs"]
mod disclosure;
#[path = "../api/dossiers.rs"]
mod dossiers;
#[path = "../api/hostile.rs"]
mod hostile;
mod nodes;
#[path = "../api/operations.rs"]
mod operations;
#[path = "../api/parties.rs"]
mod parties;
// The S3 helpers serve the content store's suite too.
#[allow(dead_code)]
#[path = "../api/s3.rs"]
mod s3;
#[path = "../api/search.rs"]
mod search;
#[path = "../api/text.rs"]
mod text;
#[path = "../api/ui.rs"]
mod ui;
#[path = "../api/validation.rs"]
mod validation;
#[path = "../api/verify.rs"]
mod verify;

/// This binary's catalog: a PostgreSQL database per test.
const BACKEND: helpers::Backend = helpers::Backend::Postgres;
