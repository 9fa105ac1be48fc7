//! Integration tests: the real server on a random port, a fresh data folder per test, real HTTP.

mod helpers;

/// This binary's catalog: the SQLite file of each test's data folder.
const BACKEND: helpers::Backend = helpers::Backend::Sqlite;

mod access;
mod archive;
mod audit;
mod batch_durability;
mod batches;
mod bench;
mod cancelled;
mod config;
mod content;
mod disclosure;
mod dossiers;
mod durability;
mod hostile;
mod openapi;
mod operations;
mod parties;
mod s3;
mod search;
mod search_durability;
mod slow_clients;
mod store;
mod text;
mod ui;
mod validation;
mod verify;
