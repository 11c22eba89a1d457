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
use crate::store::sql::{CHUNK, Sql};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde::Serialize;
use std::collections::HashSet;

/// Which table a property lives in (the name the library used before `ids::Side`).
pub use crate::ids::Side as PropertyKind;

/// The table of a side's records.
fn table(side: Side) -> &'static str {
    match side {
        Side::Source => "source_properties",
        Side::Target => "target_properties",
    }
}

/// Copies the current version of the given properties into `snapshots`, inside the database
/// (one statement per chunk, no data round-trip).
pub async fn snapshot_ids(
    conn: &impl ConnectionTrait,
    kind: PropertyKind,
    ids: &[i64],
    run: RunId,
    reason: &str,
) -> AppResult<()> {
    let at = now();
    for chunk in ids.chunks(CHUNK) {
        let mut q = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO snapshots (tenant_id, run_id, property_kind, property_id, owner_id, \
             external_id, data, hash, synced_hash, base_data, source_property_id, deleted_at, \
             reason, created_at) SELECT tenant_id, ",
        );
        q.bind(run.0).push(", ").bind(kind.as_str()).push(", id, ");
        q.push(match kind {
            PropertyKind::Source => {
                "source_id, external_id, data, hash, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
                 CAST(NULL AS BIGINT), "
            }
            PropertyKind::Target => {
                "target_id, external_id, data, hash, synced_hash, base_data, source_property_id, "
            }
        });
        q.push("deleted_at, ").bind(reason).push(", ").bind(at);
        q.push(" FROM ").push(table(kind)).push(" WHERE id IN ");
        q.bind_list(chunk.iter().copied());
        q.execute(conn).await?;
    }
    Ok(())
}

/// Puts the state recorded in the given snapshots back onto their properties. A target also
/// gets back its sync bookkeeping (synced hash, merge base, link).
async fn apply_snapshots(
    conn: &impl ConnectionTrait,
    kind: PropertyKind,
    snapshot_ids: &[i64],
    run: RunId,
) -> AppResult<()> {
    let at = now();
    for chunk in snapshot_ids.chunks(CHUNK) {
        let mut q = Sql::new(conn.get_database_backend(), "UPDATE ");
        q.push(table(kind))
            .push(" SET data = s.data, hash = s.hash, deleted_at = s.deleted_at, run_id = ")
            .bind(run.0)
            .push(", updated_at = ")
            .bind(at);
        if kind == PropertyKind::Target {
            // The link comes back only to a source record that still exists (its source may
            // have been deleted since, which cleared the link).
            q.push(
                ", synced_hash = s.synced_hash, base_data = s.base_data, \
                 source_property_id = (SELECT sp.id FROM source_properties AS sp \
                 WHERE sp.id = s.source_property_id)",
            );
        }
        q.push(" FROM snapshots AS s WHERE s.id IN ")
            .bind_list(chunk.iter().copied())
            .push(" AND ")
            .push(table(kind))
            .push(".id = s.property_id");
        q.execute(conn).await?;
    }
    Ok(())
}

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
    let backend = tx.get_database_backend();
    for kind in [PropertyKind::Source, PropertyKind::Target] {
        // The first snapshot a run wrote of a property is its pre-run version.
        let mut q = Sql::new(
            backend,
            "SELECT s.id, s.property_id, s.external_id, p.run_id, p.id FROM snapshots AS s LEFT JOIN ",
        );
        q.push(table(kind))
            .push(" AS p ON p.id = s.property_id WHERE s.run_id = ")
            .bind(id.0)
            .push(" AND s.property_kind = ")
            .bind(kind.as_str())
            .push(" ORDER BY s.id");
        let rows = q.fetch_all(&tx).await?;
        let mut seen = HashSet::new();
        let (mut to_apply, mut to_snapshot) = (Vec::new(), Vec::new());
        for row in rows {
            let snap_id: i64 = row.try_get_by_index(0)?;
            let property_id: i64 = row.try_get_by_index(1)?;
            let external_id: String = row.try_get_by_index(2)?;
            let current_run: Option<i64> = row.try_get_by_index(3)?;
            let exists: Option<i64> = row.try_get_by_index(4)?;
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
        let mut q = Sql::new(backend, "SELECT id, external_id, run_id FROM ");
        q.push(table(kind))
            .push(" WHERE tenant_id = ")
            .bind(tenant.0)
            .push(" AND created_run_id = ")
            .bind(id.0)
            .push(" ORDER BY id");
        let mut to_remove = Vec::new();
        for row in q.fetch_all(&tx).await? {
            let property_id: i64 = row.try_get_by_index(0)?;
            let external_id: String = row.try_get_by_index(1)?;
            let current_run: Option<i64> = row.try_get_by_index(2)?;
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
        for chunk in to_remove.chunks(CHUNK) {
            let mut q = Sql::new(backend, "DELETE FROM ");
            q.push(table(kind))
                .push(" WHERE id IN ")
                .bind_list(chunk.iter().copied());
            q.execute(&tx).await?;
        }
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
