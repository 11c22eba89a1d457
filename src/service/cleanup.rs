//! Cleanup: drop history older than the retention period (and fold the kept property counts,
//! see `properties::list_state`). The merge base a target needs lives
//! on the target property itself, never in a snapshot, so no cleanup can remove it.
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId};
use crate::store::retention;
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
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
    let counts = if dry_run {
        retention::count_older(&tx, tenant, cutoff).await?
    } else {
        retention::delete_older(&tx, tenant, cutoff).await?
    };
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
    super::commit::run(tx, run, &stats, None).await?;
    Ok(outcome)
}
