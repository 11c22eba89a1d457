//! Runs: the audit trail of every import, sync, edit, restore, rollback, resolve and cleanup.
//!
//! Long operations (import, sync, rollback, cleanup) record their run in its own commit before
//! the work starts ([`open`]), and their transaction finishes it; a run whose process died is
//! marked failed ("interrupted") by the next process that starts ([`reap_interrupted`]).
//! Short ones (a manual edit, restore, resolve) write their run with their effect ([`start`]).
pub(crate) use super::process::owner_alive;
pub use super::process::this_process;
use super::{Actor, now};
use crate::entity::runs;
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, SourceId, TargetId, TenantId};
use crate::store::{locks, run_rows};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

pub use crate::domain::run::{
    RunKind, STATUS_FAILED, STATUS_ROLLED_BACK, STATUS_RUNNING, STATUS_SUCCEEDED,
};

/// What a new run is.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub tenant: TenantId,
    pub kind: RunKind,
    pub source: Option<SourceId>,
    pub target: Option<TargetId>,
    pub actor: &'a Actor,
}

fn active(new: &NewRun<'_>) -> runs::ActiveModel {
    runs::ActiveModel {
        tenant_id: Set(new.tenant.0),
        kind: Set(new.kind.as_str().to_string()),
        status: Set(STATUS_RUNNING.to_string()),
        source_id: Set(new.source.map(|s| s.0)),
        target_id: Set(new.target.map(|t| t.0)),
        stats: Set("{}".to_string()),
        detail: Set(None),
        actor: Set(new.actor.0.clone()),
        started_at: Set(now()),
        finished_at: Set(None),
        owner: Set(Some(this_process().to_string())),
        ..Default::default()
    }
}

/// Inserts a run in state `running` inside the work's own transaction (short operations,
/// whose run appears with their effect); call [`finish`] in the same transaction.
pub async fn start(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: RunKind,
    source: Option<SourceId>,
    target: Option<TargetId>,
    actor: &Actor,
) -> AppResult<runs::Model> {
    let new = NewRun {
        tenant,
        kind,
        source,
        target,
        actor,
    };
    Ok(active(&new).insert(conn).await?)
}

/// Records a long operation's run (import, sync, rollback, cleanup) in its own commit before
/// the work starts, so that one which dies leaves a trace. The work's transaction then calls
/// [`attach`] first and [`finish`] last; [`recorded`] marks the run failed if the work fails.
pub async fn open(db: &DatabaseConnection, new: NewRun<'_>) -> AppResult<runs::Model> {
    Ok(active(&new).insert(db).await?)
}

/// The first statement of a long operation's transaction: shows other processes that the
/// run's owner is alive (PostgreSQL: the run's advisory lock, held until the transaction
/// ends) and checks that no process took the run for interrupted meanwhile.
pub async fn attach(tx: &impl ConnectionTrait, run: &runs::Model) -> AppResult<()> {
    locks::lock_run(tx, run.id).await?;
    let status = run_rows::status_of(tx, run.id).await?;
    if status.as_deref() != Some(STATUS_RUNNING) {
        return Err(AppError::Conflict(format!(
            "run {} was marked as interrupted before it could start; nothing was written, \
             try again",
            run.id
        )));
    }
    Ok(())
}

/// Awaits the work of `run` (opened with [`open`]); when it fails, records the failure on
/// the run (its own commit) and returns the work's error.
pub async fn recorded<T>(
    db: &DatabaseConnection,
    run: RunId,
    work: impl std::future::Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let result = work.await;
    if let Err(err) = &result
        && let Err(e) = fail(db, run, &err.to_string()).await
    {
        tracing::error!("could not record the failure of run {run}: {e}");
    }
    result
}

/// Marks a run failed with `reason` (its own commit), unless it finished meanwhile.
pub async fn fail(db: &DatabaseConnection, run: RunId, reason: &str) -> AppResult<()> {
    run_rows::fail(db, run.0, reason).await
}

/// Marks a run succeeded with its stats and optional detail. A run that another process
/// marked as interrupted meanwhile is not overwritten: the transaction fails instead.
pub async fn finish(
    conn: &impl ConnectionTrait,
    run: runs::Model,
    stats: &impl serde::Serialize,
    detail: Option<serde_json::Value>,
) -> AppResult<runs::Model> {
    let id = run.id;
    let mut model = run;
    model.status = STATUS_SUCCEEDED.to_string();
    model.stats = serde_json::to_string(stats).unwrap_or_else(|_| "{}".into());
    model.detail = detail.map(|d| d.to_string());
    model.finished_at = Some(now());
    if !run_rows::finish(conn, &model).await? {
        return Err(AppError::Conflict(format!(
            "run {id} was marked as interrupted by another process while it ran; nothing was \
             written, try again"
        )));
    }
    Ok(model)
}

/// A run that stays `running` this long without its owner is interrupted; younger ones may
/// be between their first commit and their transaction's first statement (PostgreSQL).
const START_GRACE_SECS: i64 = 10;

/// How long to wait for the lock of a run whose process is known to be dead (PostgreSQL).
const DEAD_OWNER_WAIT_SECS: u64 = 10;

/// Marks the runs whose process died as failed ("interrupted"); called when a process starts.
/// On SQLite the owner's pid and start time tell; on PostgreSQL, where several servers share
/// the database, a run is interrupted when nobody holds its advisory lock (its transaction
/// is gone) after a grace period. Returns how many were marked.
pub async fn reap_interrupted(db: &DatabaseConnection) -> AppResult<u64> {
    let running = runs::Entity::find()
        .filter(runs::Column::Status.eq(STATUS_RUNNING))
        .all(db)
        .await?;
    let mut reaped = 0;
    for run in running {
        if reap_if_gone(db, &run).await? {
            reaped += 1;
        }
    }
    Ok(reaped)
}

/// Marks `run` (found running) failed if its owner is gone; whether it did.
pub async fn reap_if_gone(db: &DatabaseConnection, run: &runs::Model) -> AppResult<bool> {
    let reason = "interrupted: the process running it stopped before it finished (nothing \
                  was written)";
    let known = match run.owner.as_deref() {
        Some(owner) if owner == this_process() => Some(true),
        Some(owner) => owner_alive(owner),
        None => None,
    };
    if crate::db::is_shared(db) {
        // Only the run's lock tells for a process of another machine, and only after the
        // grace period; one of this machine is asked directly too.
        let young = (now() - run.started_at).num_seconds() < START_GRACE_SECS;
        if known == Some(true) || (known.is_none() && young) {
            return Ok(false);
        }
        let tx = db.begin().await?;
        let free = if known == Some(false) {
            // Its process is gone, but its server process may still be finishing the statement
            // it was running when the client died (then rolls back): wait a while for that.
            if !locks::lock_run_within(&tx, run.id, DEAD_OWNER_WAIT_SECS).await? {
                tx.rollback().await?;
                return Ok(false);
            }
            true
        } else {
            locks::try_lock_run(&tx, run.id).await?
        };
        if free {
            run_rows::mark_interrupted(&tx, run.id, reason).await?;
        }
        tx.commit().await?;
        return Ok(free);
    }
    // SQLite databases are not shared between machines: an owner of another boot is gone.
    let alive = known.unwrap_or(false);
    if !alive {
        run_rows::mark_interrupted(db, run.id, reason).await?;
    }
    Ok(!alive)
}

/// Runs of a tenant, newest first; `before` is the cursor (a run id).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    limit: u64,
    before: Option<RunId>,
) -> AppResult<Vec<runs::Model>> {
    let mut query = runs::Entity::find().filter(runs::Column::TenantId.eq(tenant.0));
    if let Some(before) = before {
        query = query.filter(runs::Column::Id.lt(before.0));
    }
    Ok(query
        .order_by_desc(runs::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The runs of a tenant with these ids.
pub async fn by_ids(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    ids: &[i64],
) -> AppResult<Vec<runs::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(runs::Entity::find()
        .filter(runs::Column::TenantId.eq(tenant.0))
        .filter(runs::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// How many runs a tenant has.
pub async fn count(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<u64> {
    Ok(runs::Entity::find()
        .filter(runs::Column::TenantId.eq(tenant.0))
        .count(conn)
        .await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: RunId,
) -> AppResult<runs::Model> {
    runs::Entity::find_by_id(id.0)
        .filter(runs::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("run", id))
}

/// `get`, with the run's row locked until the transaction ends (PostgreSQL).
pub async fn get_for_update(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: RunId,
) -> AppResult<runs::Model> {
    runs::Entity::find_by_id(id.0)
        .filter(runs::Column::TenantId.eq(tenant.0))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("run", id))
}
