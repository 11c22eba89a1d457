//! Sources: where records come from.
use crate::domain::kinds::{
    DEFAULT_MAX_DELETE_FRACTION, SourceKind, SourceSettings, check_source_config, source_settings,
};
use crate::ids::SourceId;

pub use super::endpoints::{EndpointUpdate as SourceUpdate, NewEndpoint as NewSource};

super::endpoints::endpoint_crud!(
    sources,
    SourceId,
    SourceKind,
    check_source_config,
    crate::ids::Owner::Source,
    "source"
);

/// The typed settings of a stored source (validated when it was written).
pub fn settings(source: &sources::Model) -> SourceSettings {
    serde_json::from_str(&source.config)
        .map_err(|e| e.to_string())
        .and_then(|c| source_settings(&c))
        .unwrap_or(SourceSettings {
            max_delete_fraction: DEFAULT_MAX_DELETE_FRACTION,
        })
}
