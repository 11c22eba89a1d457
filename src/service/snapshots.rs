//! Snapshots: the full previous version of a property, written before every change to it.
//! Also restoring one snapshot and rolling back a whole run.
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::domain::run::rollback_refusal;
use crate::domain::warning::{ROLLED_BACK, WarningStatus};
use crate::entity::{snapshots, source_properties, target_properties, warnings};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, RunId, Side, SnapshotId, SourceId, TargetId, TenantId};
use crate::store::locks::{self, Mode};
use crate::store::snapshot_rows::{self, apply_snapshots};

pub use crate::store::snapshot_rows::snapshot_ids;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde::Serialize;
use std::collections::HashSet;

/// Which table a property lives in (the name the library used before `ids::Side`).
pub use crate::ids::Side as PropertyKind;

/// Snapshots of one property, newest first.
/// The newest `limit` snapshots of a property, newest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: PropertyKind,
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
    kind: PropertyKind,
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
    pub property_kind: PropertyKind,
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
        PropertyKind::Source => (Some(SourceId(snap.owner_id)), None),
        PropertyKind::Target => (None, Some(TargetId(snap.owner_id))),
    };
    // A single-record writer (see `locks`): the owner's lock shared, then the record's row.
    let owner = match kind {
        PropertyKind::Source => Owner::Source(SourceId(snap.owner_id)),
        PropertyKind::Target => Owner::Target(TargetId(snap.owner_id)),
    };
    locks::lock(&tx, owner, Mode::Shared).await?;
    let run = runs::start(&tx, tenant, RunKind::Restore, source, target, actor).await?;
    let run_id = RunId(run.id);
    match kind {
        PropertyKind::Source => {
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
        PropertyKind::Target => {
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
    runs::finish(&tx, run, &stats, None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(RestoreOutcome {
        run_id,
        property_kind: kind,
        property_id: snap.property_id,
        external_id: snap.external_id,
    })
}

/// A property a rollback left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedProperty {
    pub property_kind: PropertyKind,
    pub external_id: String,
    pub reason: String,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackOutcome {
    pub run_id: RunId,
    pub rolled_back_run_id: RunId,
    /// Properties returned to their pre-run version.
    pub restored: u64,
    /// Properties the run had created, removed again.
    pub removed: u64,
    pub skipped: Vec<SkippedProperty>,
}

/// Returns every property a run changed to its pre-run snapshot and removes the ones it
/// created. Properties changed again since are skipped and reported.
pub async fn rollback_run(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: RunId,
    actor: &Actor,
) -> AppResult<RollbackOutcome> {
    let unlocked = runs::get(db, tenant, id).await?;
    let new = runs::NewRun {
        tenant,
        kind: RunKind::Rollback,
        source: unlocked.source_id.map(SourceId),
        target: unlocked.target_id.map(TargetId),
        actor,
    };
    let run = runs::open(db, new).await?;
    let run_id = RunId(run.id);
    let work = rollback_recorded(db, tenant, unlocked, Some(run), actor);
    runs::recorded(db, run_id, work).await
}

/// What `rollback_run` would do, without doing it: what it would restore, remove and skip.
pub async fn rollback_preview(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: RunId,
    actor: &Actor,
) -> AppResult<RollbackOutcome> {
    let unlocked = runs::get(db, tenant, id).await?;
    rollback_recorded(db, tenant, unlocked, None, actor).await
}

/// `rollback_run` of `unlocked` (the run as read before any lock), with its own run opened
/// before (`None`: a preview, whose run and changes are rolled back with its transaction).
async fn rollback_recorded(
    db: &DatabaseConnection,
    tenant: TenantId,
    unlocked: crate::entity::runs::Model,
    run: Option<crate::entity::runs::Model>,
    actor: &Actor,
) -> AppResult<RollbackOutcome> {
    let id = RunId(unlocked.id);
    let tx = crate::db::begin_write(db).await?;
    let preview = run.is_none();
    let run = match run {
        Some(run) => {
            runs::attach(&tx, &run).await?;
            run
        }
        None => {
            let (source, target) = (
                unlocked.source_id.map(SourceId),
                unlocked.target_id.map(TargetId),
            );
            runs::start(&tx, tenant, RunKind::Rollback, source, target, actor).await?
        }
    };
    // A bulk writer (see `locks`): the lock of whose records the run changed, exclusively
    // (a sync's: its target's), then the run read again under it.
    let owner = match (unlocked.target_id, unlocked.source_id) {
        (Some(target), _) => Some(Owner::Target(TargetId(target))),
        (None, Some(source)) => Some(Owner::Source(SourceId(source))),
        (None, None) => None,
    };
    if let Some(owner) = owner {
        locks::lock(&tx, owner, Mode::Exclusive).await?;
    }
    let target_run = runs::get_for_update(&tx, tenant, id).await?;
    if let Some(refusal) = rollback_refusal(id, RunKind::of(&target_run.kind), &target_run.status) {
        return Err(AppError::Conflict(refusal));
    }
    let new_run = RunId(run.id);
    let mut outcome = RollbackOutcome {
        run_id: new_run,
        rolled_back_run_id: id,
        restored: 0,
        removed: 0,
        skipped: Vec::new(),
    };
    for kind in [Side::Source, Side::Target] {
        // The first snapshot a run wrote of a property is its pre-run version.
        let rows = snapshot_rows::of_run(&tx, kind, id).await?;
        let mut seen = HashSet::new();
        let (mut to_apply, mut to_snapshot) = (Vec::new(), Vec::new());
        for row in rows {
            let snapshot_rows::OfRun {
                snapshot_id: snap_id,
                property_id,
                external_id,
                current_run,
                exists,
            } = row;
            if !seen.insert(property_id) {
                continue;
            }
            if exists.is_none() {
                outcome.skipped.push(SkippedProperty {
                    property_kind: kind,
                    external_id,
                    reason: "the property no longer exists".into(),
                });
            } else if current_run != Some(id.0) {
                outcome.skipped.push(SkippedProperty {
                    property_kind: kind,
                    external_id,
                    reason: format!(
                        "changed again since, by run {}",
                        current_run
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "?".into())
                    ),
                });
            } else {
                to_apply.push(snap_id);
                to_snapshot.push(property_id);
            }
        }
        snapshot_ids(&tx, kind, &to_snapshot, new_run, "rollback").await?;
        apply_snapshots(&tx, kind, &to_apply, new_run).await?;
        outcome.restored += to_apply.len() as u64;

        // Properties the run created: removed if untouched since, else reported.
        let mut to_remove = Vec::new();
        for (property_id, external_id, current_run) in
            snapshot_rows::created_by(&tx, kind, tenant, id).await?
        {
            if current_run == Some(id.0) {
                to_remove.push(property_id);
            } else {
                outcome.skipped.push(SkippedProperty {
                    property_kind: kind,
                    external_id,
                    reason: format!(
                        "created by run {id} but changed again since, by run {}",
                        current_run
                            .map(|r| r.to_string())
                            .unwrap_or_else(|| "?".into())
                    ),
                });
            }
        }
        snapshot_ids(&tx, kind, &to_remove, new_run, "rollback").await?;
        snapshot_rows::delete_records(&tx, kind, &to_remove).await?;
        outcome.removed += to_remove.len() as u64;
    }

    warnings::Entity::update_many()
        .col_expr(
            warnings::Column::Status,
            Expr::value(WarningStatus::Resolved.as_str()),
        )
        .col_expr(warnings::Column::Resolution, Expr::value(ROLLED_BACK))
        .col_expr(warnings::Column::ResolvedRunId, Expr::value(new_run.0))
        .col_expr(warnings::Column::ResolvedAt, Expr::value(now()))
        .filter(warnings::Column::RunId.eq(id.0))
        .filter(warnings::Column::Status.eq(WarningStatus::Open.as_str()))
        .exec(&tx)
        .await?;
    let mut rolled: crate::entity::runs::ActiveModel = target_run.into();
    rolled.status = Set(runs::STATUS_ROLLED_BACK.to_string());
    rolled.update(&tx).await?;
    let stats = serde_json::json!({
        "restored": outcome.restored,
        "removed": outcome.removed,
        "skipped": outcome.skipped.len(),
    });
    let detail = serde_json::json!({"rolled_back_run_id": id.0, "skipped": outcome.skipped});
    if preview {
        tx.rollback().await?;
        return Ok(outcome);
    }
    runs::finish(&tx, run, &stats, Some(detail)).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(outcome)
}
