//! The search index: a tantivy projection of the catalog, rebuilt at will, that finds
//! documents by person, company, source, type, dates and words.
//!
//! `writer` keeps it following the catalog's change sequence; `search` answers queries within
//! the caller's scope; `http` is `GET /api/v1/search`; `rebuild` is `ged reindex`.

pub mod criteria;
pub mod document;
pub mod http;
pub mod queue;
pub mod rebuild;
pub mod schema;
pub mod search;
pub mod stemming;
pub mod table;
pub mod writer;

pub use search::{Cursor, SearchRequest, SearchResults, Sort};
pub use writer::{IndexError, IndexWriterTask, SearchIndex};
