//! Records of sources and targets as the API, the CLI and the dashboard list and show them,
//! tenant-scoped.
use crate::domain::drift::differs_from_sync;
use crate::domain::identity::storable_id;
use crate::entity::{source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, SourceId, TargetId, TenantId};
use crate::store::listing;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use crate::domain::listing::{ListState, ListedProperty, PropertyFilter};
pub use crate::store::listing::{manual_page, rows, titles, total_at};
pub use crate::store::live_counts::list_state;

/// Target property has hand edits: its hash differs from what the last sync wrote.
pub fn has_manual_changes(p: &target_properties::Model) -> bool {
    differs_from_sync(&p.hash, p.synced_hash.as_deref())
}

/// The merge base to keep after a non-sync change of a target property to `new_hash` (see
/// `domain::drift`).
pub(crate) fn base_after_manual_change(
    old: &target_properties::Model,
    new_hash: &str,
) -> Option<String> {
    crate::domain::drift::base_after_manual_change(
        &old.data,
        &old.hash,
        old.synced_hash.as_deref(),
        old.base_data.as_deref(),
        new_hash,
    )
}

pub async fn list_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    filter: &PropertyFilter,
) -> AppResult<Vec<source_properties::Model>> {
    super::sources::get(conn, tenant, source).await?;
    listing::all_source(conn, source, filter).await
}

pub async fn list_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    filter: &PropertyFilter,
) -> AppResult<Vec<target_properties::Model>> {
    super::targets::get(conn, tenant, target).await?;
    listing::all_target(conn, target, filter).await
}

/// One page of a source's or target's properties (cursor and limit of `filter`) and how many
/// match the filter in all.
pub async fn page(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    owner: Owner,
    filter: &PropertyFilter,
) -> AppResult<(Vec<ListedProperty>, u64)> {
    let state = list_state(conn, tenant, owner).await?;
    page_at(conn, owner, state, filter).await
}

/// `page`, for an owner whose `list_state` the caller has read (that read is also the check
/// that the owner is the tenant's).
pub async fn page_at(
    conn: &impl ConnectionTrait,
    owner: Owner,
    state: ListState,
    filter: &PropertyFilter,
) -> AppResult<(Vec<ListedProperty>, u64)> {
    let total = total_at(conn, owner, state, filter).await?;
    Ok((rows(conn, owner, filter).await?, total))
}

pub async fn get_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
) -> AppResult<source_properties::Model> {
    super::sources::get(conn, tenant, source).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

pub async fn get_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
) -> AppResult<target_properties::Model> {
    super::targets::get(conn, tenant, target).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    target_properties::Entity::find()
        .filter(target_properties::Column::TargetId.eq(target.0))
        .filter(target_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}
