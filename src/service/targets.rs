//! Targets: where records go.
use crate::domain::kinds::{
    ConflictPolicy, DeletePolicy, TargetKind, TargetSettings, check_target_config, target_settings,
};
use crate::ids::TargetId;

pub use super::endpoints::{EndpointUpdate as TargetUpdate, NewEndpoint as NewTarget};

super::endpoints::endpoint_crud!(
    targets,
    TargetId,
    TargetKind,
    check_target_config,
    crate::ids::Owner::Target,
    "target"
);

/// The typed settings of a stored target (validated when it was written).
pub fn settings(target: &targets::Model) -> TargetSettings {
    serde_json::from_str(&target.config)
        .map_err(|e| e.to_string())
        .and_then(|c| target_settings(&c))
        .unwrap_or(TargetSettings {
            conflict_policy: ConflictPolicy::Merge,
            delete_policy: DeletePolicy::Mark,
        })
}
