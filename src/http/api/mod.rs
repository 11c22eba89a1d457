//! The REST API: one `#[OpenApi]` impl per resource, each handler a thin translation over
//! one service call.
mod endpoints;
mod health;
mod history;
mod imports;
mod list_page;
mod properties;
mod property_dto;
mod runs;
mod sources;
mod sync;
mod targets;
mod tenant;
mod warnings;

use super::AppState;
use poem_openapi::Tags;

#[derive(Tags)]
pub enum ApiTags {
    /// Service health.
    Health,
    /// Where records come from.
    Sources,
    /// Where records go.
    Targets,
    /// Records of sources and targets, and manual edits.
    Properties,
    /// Importing records into a source.
    Imports,
    /// Syncing a source into a target.
    Sync,
    /// The audit trail, and rolling back.
    Runs,
    /// Conflicts and other things a human must look at.
    Warnings,
    /// The current tenant, its API keys and cleanup; admin endpoints.
    Tenant,
}

/// Every API of the service.
pub fn apis(
    state: AppState,
) -> (
    health::HealthApi,
    sources::SourcesApi,
    targets::TargetsApi,
    imports::ImportsApi,
    properties::PropertiesApi,
    sync::SyncApi,
    runs::RunsApi,
    warnings::WarningsApi,
    history::HistoryApi,
    tenant::TenantApi,
) {
    (
        health::HealthApi(state.clone()),
        sources::SourcesApi(state.clone()),
        targets::TargetsApi(state.clone()),
        imports::ImportsApi(state.clone()),
        properties::PropertiesApi(state.clone()),
        sync::SyncApi(state.clone()),
        runs::RunsApi(state.clone()),
        warnings::WarningsApi(state.clone()),
        history::HistoryApi(state.clone()),
        tenant::TenantApi(state),
    )
}
