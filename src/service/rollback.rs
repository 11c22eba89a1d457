//! Rolling a run back (SPEC §4 "Restore"): every record it changed returns to its version before
//! the run, what it created is removed, and records changed since are left alone and
//! reported (`domain::rollback_plan` decides). A bulk writer: the lock of the records the run
//! changed, exclusively.
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::domain::rollback_plan::{self, rollback_refusal};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, RunId, Side, SourceId, TargetId, TenantId};
use crate::store::locks::{self, Mode};
use crate::store::snapshot_rows::{self, apply_snapshots, snapshot_ids};
use crate::store::warning_rows;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde::Serialize;

pub use crate::domain::rollback_plan::SkippedProperty;

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
    for side in [Side::Source, Side::Target] {
        // The first snapshot a run wrote of a record is its version before the run.
        let back = rollback_plan::restores(side, id.0, snapshot_rows::of_run(&tx, side, id).await?);
        snapshot_ids(&tx, side, &back.properties, new_run, "rollback").await?;
        apply_snapshots(&tx, side, &back.snapshots, new_run).await?;
        outcome.restored += back.snapshots.len() as u64;
        outcome.skipped.extend(back.skipped);
        // Records the run created: removed if untouched since, else reported.
        let created = snapshot_rows::created_by(&tx, side, tenant, id).await?;
        let (remove, skipped) = rollback_plan::removals(side, id.0, created);
        snapshot_ids(&tx, side, &remove, new_run, "rollback").await?;
        snapshot_rows::delete_records(&tx, side, &remove).await?;
        outcome.removed += remove.len() as u64;
        outcome.skipped.extend(skipped);
    }
    warning_rows::close_for_rollback(&tx, id, new_run, now()).await?;
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
    super::commit::run(tx, run, &stats, Some(detail)).await?;
    Ok(outcome)
}
