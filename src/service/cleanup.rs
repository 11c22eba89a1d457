//! Cleanup: drop history older than the retention period (and fold the kept property counts,
//! see `properties::list_state`). The merge base a target needs lives
//! on the target property itself, never in a snapshot, so no cleanup can remove it.
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId};
use crate::store::sql::Sql;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct CleanupOutcome {
    /// The run recorded; `None` for a dry run.
    pub run_id: Option<RunId>,
    pub days: i64,
    pub cutoff: DateTime<Utc>,
    pub snapshots: u64,
    pub warnings: u64,
    pub runs: u64,
    pub dry_run: bool,
}

const SNAPSHOTS: &str = "FROM snapshots WHERE tenant_id = {t} AND created_at < {c}";
const WARNINGS: &str =
    "FROM warnings WHERE tenant_id = {t} AND status = 'resolved' AND resolved_at < {c}";
// A run stays while an open warning or a remaining snapshot points at it.
const RUNS: &str = "FROM runs WHERE tenant_id = {t} AND status <> 'running' AND finished_at < {c} \
     AND id NOT IN (SELECT run_id FROM warnings WHERE status = 'open' AND run_id IS NOT NULL) \
     AND id NOT IN (SELECT resolved_run_id FROM warnings WHERE resolved_run_id IS NOT NULL) \
     AND id NOT IN (SELECT run_id FROM snapshots WHERE run_id IS NOT NULL AND created_at >= {c})";

fn statement(
    backend: DbBackend,
    verb: &str,
    template: &str,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> Sql {
    let mut q = Sql::new(backend, verb);
    let mut rest = template;
    while let Some(pos) = rest.find('{') {
        q.push(&rest[..pos]);
        let end = pos + 3;
        match &rest[pos..end] {
            "{t}" => q.bind(tenant.0),
            _ => q.bind(cutoff),
        };
        rest = &rest[end..];
    }
    q.push(rest);
    q
}

/// Deletes snapshots, resolved warnings and finished runs older than `days` (default: the
/// tenant's retention setting), and expired idempotency keys. A dry run only counts.
pub async fn cleanup(
    db: &DatabaseConnection,
    tenant: TenantId,
    days: Option<i64>,
    dry_run: bool,
    actor: &Actor,
) -> AppResult<CleanupOutcome> {
    let settings = super::scope::get(db, tenant).await?;
    let days = days.unwrap_or(i64::from(settings.retention_days));
    if !(0..=36500).contains(&days) {
        return Err(AppError::invalid(
            "days",
            format!("must be between 0 and 36500, got {days}"),
        ));
    }
    let cutoff = now() - Duration::days(days);
    let tx = crate::db::begin_write(db).await?;
    let backend = tx.get_database_backend();
    let mut counts = [0u64; 3];
    for (i, template) in [SNAPSHOTS, WARNINGS, RUNS].into_iter().enumerate() {
        let q = if dry_run {
            statement(backend, "SELECT COUNT(*) ", template, tenant, cutoff)
        } else {
            statement(backend, "DELETE ", template, tenant, cutoff)
        };
        counts[i] = if dry_run {
            match q.fetch_one(&tx).await? {
                Some(row) => row.try_get_by_index::<i64>(0)? as u64,
                None => 0,
            }
        } else {
            q.execute(&tx).await?
        };
    }
    let mut outcome = CleanupOutcome {
        run_id: None,
        days,
        cutoff,
        snapshots: counts[0],
        warnings: counts[1],
        runs: counts[2],
        dry_run,
    };
    if dry_run {
        tx.rollback().await?;
        return Ok(outcome);
    }
    super::properties::fold_live_counts(&tx, tenant).await?;
    // Idempotency keys live 24 hours, whatever the retention.
    let idempotency_keys = super::idempotency::purge_expired(&tx, tenant).await?;
    let run = runs::start(&tx, tenant, RunKind::Cleanup, None, None, actor).await?;
    outcome.run_id = Some(RunId(run.id));
    let stats = serde_json::json!({
        "snapshots": outcome.snapshots,
        "warnings": outcome.warnings,
        "runs": outcome.runs,
        "idempotency_keys": idempotency_keys,
        "days": days,
    });
    runs::finish(&tx, run, &stats, None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(outcome)
}
