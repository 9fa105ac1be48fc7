//! ged: an archive of inbound and outbound mail for French social-protection bodies, utilities
//! and local authorities. Content is stored once by SHA-256, metadata lives in a SQL catalog,
//! and every document is found by the person or company it concerns.
#![forbid(unsafe_code)]

pub mod access;
pub mod archive;
pub mod audit;
pub mod batches;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod content;
pub mod dates;
pub mod documents;
pub mod dossiers;
pub mod email;
pub mod extraction;
pub mod group_commit;
pub mod http;
pub mod identifiers;
pub mod index;
pub mod json;
pub mod metrics;
pub mod parties;
pub mod startup;
pub mod ui;
pub mod validation;
pub mod verify;
