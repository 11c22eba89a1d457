//! What `serve` runs by itself, on every server: today the daily cleanup of every tenant's
//! history (SPEC §4 "Cleanup").
use crate::ids::TenantId;
use crate::service::{Actor, cleanup, tenants};
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// Starts the jobs of a server on `db`.
pub fn start(db: DatabaseConnection) {
    tokio::spawn(daily_cleanup(db));
}

/// Runs the retention cleanup of every tenant once a day.
async fn daily_cleanup(db: DatabaseConnection) {
    let mut every_day = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    loop {
        every_day.tick().await;
        let all = match tenants::list(&db).await {
            Ok(all) => all,
            Err(e) => {
                tracing::error!("daily cleanup: cannot list tenants: {e}");
                continue;
            }
        };
        if let Err(e) = crate::service::idempotency::purge_all_expired(&db).await {
            tracing::error!("daily cleanup: cannot remove expired idempotency keys: {e}");
        }
        for t in all {
            let actor = Actor("scheduler".into());
            match cleanup::cleanup(&db, TenantId(t.id), None, false, &actor).await {
                Ok(out) => tracing::info!(
                    tenant = t.id,
                    snapshots = out.snapshots,
                    warnings = out.warnings,
                    runs = out.runs,
                    "daily cleanup"
                ),
                Err(e) => tracing::error!(tenant = t.id, "daily cleanup failed: {e}"),
            }
        }
    }
}
