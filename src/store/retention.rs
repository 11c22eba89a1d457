//! The history a tenant's retention lets go: snapshots, resolved warnings and finished runs
//! older than a cutoff (never a run an open warning or a kept snapshot still points at).
use super::sql::Sql;
use crate::error::AppResult;
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend};

const SNAPSHOTS: &str = "FROM snapshots WHERE tenant_id = {t} AND created_at < {c}";
const WARNINGS: &str =
    "FROM warnings WHERE tenant_id = {t} AND status = 'resolved' AND resolved_at < {c}";
// A run stays while an open warning or a remaining snapshot points at it.
const RUNS: &str = "FROM runs WHERE tenant_id = {t} AND status <> 'running' AND finished_at < {c} \
     AND id NOT IN (SELECT run_id FROM warnings WHERE status = 'open' AND run_id IS NOT NULL) \
     AND id NOT IN (SELECT resolved_run_id FROM warnings WHERE resolved_run_id IS NOT NULL) \
     AND id NOT IN (SELECT run_id FROM snapshots WHERE run_id IS NOT NULL AND created_at >= {c})";

/// A statement of `verb` and `template` with `{t}` and `{c}` bound.
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

/// How many snapshots, resolved warnings and finished runs of `tenant` are older than
/// `cutoff`.
pub async fn count_older(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> AppResult<[u64; 3]> {
    let backend = conn.get_database_backend();
    let mut counts = [0u64; 3];
    for (i, template) in [SNAPSHOTS, WARNINGS, RUNS].into_iter().enumerate() {
        let q = statement(backend, "SELECT COUNT(*) ", template, tenant, cutoff);
        counts[i] = match q.fetch_one(conn).await? {
            Some(row) => row.try_get_by_index::<i64>(0)? as u64,
            None => 0,
        };
    }
    Ok(counts)
}

/// Deletes them; how many of each.
pub async fn delete_older(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> AppResult<[u64; 3]> {
    let backend = conn.get_database_backend();
    let mut counts = [0u64; 3];
    for (i, template) in [SNAPSHOTS, WARNINGS, RUNS].into_iter().enumerate() {
        counts[i] = statement(backend, "DELETE ", template, tenant, cutoff)
            .execute(conn)
            .await?;
    }
    Ok(counts)
}

/// How many sources and targets a tenant has.
pub async fn endpoint_counts(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> AppResult<(u64, u64)> {
    let backend = conn.get_database_backend();
    let mut counts = [0u64; 2];
    for (i, sql) in [
        "SELECT COUNT(*) FROM sources WHERE tenant_id = ",
        "SELECT COUNT(*) FROM targets WHERE tenant_id = ",
    ]
    .into_iter()
    .enumerate()
    {
        let mut q = Sql::new(backend, sql);
        q.bind(tenant.0);
        counts[i] = match q.fetch_one(conn).await? {
            Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
            None => 0,
        };
    }
    Ok((counts[0], counts[1]))
}
