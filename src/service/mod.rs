//! Use cases, one file each. Functions over a connection or transaction returning
//! `AppResult`; no HTTP types, no printing. The CLI and the API call the same functions.
pub mod cleanup;
pub mod commit;
pub mod dashboard;
pub mod edits;
pub mod endpoints;
pub mod history;
pub mod idempotency;
pub mod import_preview;
pub mod imports;
pub mod index_cache;
pub mod keys;
pub mod process;
pub mod properties;
pub mod records;
pub mod rollback;
pub mod runs;
pub mod scope;
pub mod sessions;
pub mod snapshots;
pub mod sources;
pub mod sync;
pub mod targets;
pub mod tenants;
pub mod uploads;
pub mod warnings;

pub use crate::db::now;

/// Who performed an operation, recorded on its run: an API key prefix, or `cli`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn cli() -> Self {
        Actor("cli".into())
    }
}

/// Parses a stored JSON object (data columns always hold one).
pub(crate) fn parse_object(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}
