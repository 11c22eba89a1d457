//! A record's history: its snapshots (every previous version, with why and by which run), and
//! restoring one (the current version snapshotted first; on a target a hand edit).
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::entity::{snapshots, source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, RunId, Side, SnapshotId, SourceId, TargetId, TenantId};
use crate::store::locks::{self, Mode};
use crate::store::snapshot_rows::snapshot_ids;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

/// Snapshots of one property, newest first.
/// The newest `limit` snapshots of a property, newest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: Side,
    property_id: i64,
    limit: u64,
) -> AppResult<Vec<snapshots::Model>> {
    Ok(snapshots::Entity::find()
        .filter(snapshots::Column::TenantId.eq(tenant.0))
        .filter(snapshots::Column::PropertyKind.eq(kind.as_str()))
        .filter(snapshots::Column::PropertyId.eq(property_id))
        .order_by_desc(snapshots::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn list_for_property(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: Side,
    property_id: i64,
) -> AppResult<Vec<snapshots::Model>> {
    Ok(snapshots::Entity::find()
        .filter(snapshots::Column::TenantId.eq(tenant.0))
        .filter(snapshots::Column::PropertyKind.eq(kind.as_str()))
        .filter(snapshots::Column::PropertyId.eq(property_id))
        .order_by_desc(snapshots::Column::Id)
        .all(conn)
        .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: SnapshotId,
) -> AppResult<snapshots::Model> {
    snapshots::Entity::find_by_id(id.0)
        .filter(snapshots::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("snapshot", id))
}

/// Result of restoring one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub run_id: RunId,
    pub property_kind: Side,
    pub property_id: i64,
    pub external_id: String,
}

/// Restores a snapshot onto its property; the current version is snapshotted first. On a
/// target this counts as a manual edit (the merge base is kept so the next sync can merge).
pub async fn restore(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: SnapshotId,
    actor: &Actor,
) -> AppResult<RestoreOutcome> {
    let tx = crate::db::begin_write(db).await?;
    let snap = get(&tx, tenant, id).await?;
    let kind = Side::from_stored(&snap.property_kind);
    let gone = || {
        AppError::Conflict(format!(
            "the {} property {:?} of snapshot {id} no longer exists",
            kind.as_str(),
            snap.external_id
        ))
    };
    let (source, target) = match kind {
        Side::Source => (Some(SourceId(snap.owner_id)), None),
        Side::Target => (None, Some(TargetId(snap.owner_id))),
    };
    // A single-record writer (see `locks`): the owner's lock shared, then the record's row.
    let owner = match kind {
        Side::Source => Owner::Source(SourceId(snap.owner_id)),
        Side::Target => Owner::Target(TargetId(snap.owner_id)),
    };
    locks::lock(&tx, owner, Mode::Shared).await?;
    let run = runs::start(&tx, tenant, RunKind::Restore, source, target, actor).await?;
    let run_id = RunId(run.id);
    match kind {
        Side::Source => {
            let prop = source_properties::Entity::find_by_id(snap.property_id)
                .lock_exclusive()
                .one(&tx)
                .await?
                .ok_or_else(gone)?;
            snapshot_ids(&tx, kind, &[prop.id], run_id, "restore").await?;
            let mut active: source_properties::ActiveModel = prop.into();
            active.data = Set(snap.data.clone());
            active.hash = Set(snap.hash.clone());
            active.deleted_at = Set(snap.deleted_at);
            active.run_id = Set(Some(run.id));
            active.updated_at = Set(now());
            active.update(&tx).await?;
        }
        Side::Target => {
            let prop = target_properties::Entity::find_by_id(snap.property_id)
                .lock_exclusive()
                .one(&tx)
                .await?
                .ok_or_else(gone)?;
            snapshot_ids(&tx, kind, &[prop.id], run_id, "restore").await?;
            let base = crate::domain::drift::base_after_manual_change(
                &prop.data,
                &prop.hash,
                prop.synced_hash.as_deref(),
                prop.base_data.as_deref(),
                &snap.hash,
            );
            let mut active: target_properties::ActiveModel = prop.into();
            active.data = Set(snap.data.clone());
            active.hash = Set(snap.hash.clone());
            active.base_data = Set(base);
            active.deleted_at = Set(snap.deleted_at);
            active.run_id = Set(Some(run.id));
            active.updated_at = Set(now());
            active.update(&tx).await?;
        }
    }
    let stats = serde_json::json!({"restored": 1, "snapshot_id": id.0});
    super::commit::run(tx, run, &stats, None).await?;
    Ok(RestoreOutcome {
        run_id,
        property_kind: kind,
        property_id: snap.property_id,
        external_id: snap.external_id,
    })
}
