//! Runs: the audit trail of every import, sync, edit, restore, rollback, resolve and cleanup.
use super::{Actor, now};
use crate::entity::runs;
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, SourceId, TargetId, TenantId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// What kind of operation a run was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Import,
    Sync,
    Edit,
    Restore,
    Rollback,
    Resolve,
    Cleanup,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Import => "import",
            RunKind::Sync => "sync",
            RunKind::Edit => "edit",
            RunKind::Restore => "restore",
            RunKind::Rollback => "rollback",
            RunKind::Resolve => "resolve",
            RunKind::Cleanup => "cleanup",
        }
    }
}

pub const STATUS_RUNNING: &str = "running";
pub const STATUS_SUCCEEDED: &str = "succeeded";
pub const STATUS_ROLLED_BACK: &str = "rolled_back";

/// Inserts a run in state `running`; call [`finish`] in the same transaction.
pub async fn start(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    kind: RunKind,
    source: Option<SourceId>,
    target: Option<TargetId>,
    actor: &Actor,
) -> AppResult<runs::Model> {
    let model = runs::ActiveModel {
        tenant_id: Set(tenant.0),
        kind: Set(kind.as_str().to_string()),
        status: Set(STATUS_RUNNING.to_string()),
        source_id: Set(source.map(|s| s.0)),
        target_id: Set(target.map(|t| t.0)),
        stats: Set("{}".to_string()),
        detail: Set(None),
        actor: Set(actor.0.clone()),
        started_at: Set(now()),
        finished_at: Set(None),
        ..Default::default()
    };
    Ok(model.insert(conn).await?)
}

/// Marks a run succeeded with its stats and optional detail.
pub async fn finish(
    conn: &impl ConnectionTrait,
    run: runs::Model,
    stats: &impl serde::Serialize,
    detail: Option<serde_json::Value>,
) -> AppResult<runs::Model> {
    let mut active: runs::ActiveModel = run.into();
    active.status = Set(STATUS_SUCCEEDED.to_string());
    active.stats = Set(serde_json::to_string(stats).unwrap_or_else(|_| "{}".into()));
    active.detail = Set(detail.map(|d| d.to_string()));
    active.finished_at = Set(Some(now()));
    Ok(active.update(conn).await?)
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
