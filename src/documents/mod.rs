//! Documents: what the archive keeps, how their metadata is validated and how files are typed,
//! and the HTTP resource that archives and serves them.

pub mod http;
pub mod media_type;
pub mod metadata;
pub mod model;
pub mod new;
