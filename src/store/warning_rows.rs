//! Warnings' rows: storing new ones, which are open, and how many of each kind.
use super::sql::Sql;
use crate::domain::warning::{NewWarning, WarningStatus};
use crate::entity::warnings;
use crate::error::AppResult;
use crate::ids::{RunId, TargetId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use std::collections::HashSet;

/// Stores a new (open) warning raised at `at`.
pub async fn insert(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    new: NewWarning,
    at: DateTime<Utc>,
) -> AppResult<warnings::Model> {
    Ok(warnings::ActiveModel {
        tenant_id: Set(tenant.0),
        run_id: Set(Some(new.run_id)),
        kind: Set(new.kind.to_string()),
        source_id: Set(new.source_id),
        target_id: Set(new.target_id),
        target_property_id: Set(new.target_property_id),
        external_id: Set(new.external_id),
        source_hash: Set(new.source_hash),
        message: Set(new.message),
        details: Set(new.details),
        status: Set(WarningStatus::Open.to_string()),
        resolution: Set(None),
        resolved_run_id: Set(None),
        created_at: Set(at),
        resolved_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The open warnings about a target's records, as (record, kind, source hash): a sync raises
/// no second warning of the same record, kind and source version.
pub async fn open_keys(
    conn: &impl ConnectionTrait,
    target: TargetId,
) -> AppResult<HashSet<(i64, String, String)>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT target_property_id, kind, source_hash FROM warnings WHERE status = 'open' \
         AND target_property_id IS NOT NULL AND target_id = ",
    );
    q.bind(target.0);
    let mut out = HashSet::new();
    for row in q.fetch_all(conn).await? {
        let hash: Option<String> = row.try_get_by_index(2)?;
        out.insert((
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            hash.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// A tenant's open warnings by kind, most first.
pub async fn open_by_kind(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> AppResult<Vec<(String, u64)>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT kind, COUNT(*) FROM warnings WHERE status = 'open' AND tenant_id = ",
    );
    q.bind(tenant.0)
        .push(" GROUP BY kind ORDER BY COUNT(*) DESC, kind");
    let mut out = Vec::new();
    for row in q.fetch_all(conn).await? {
        out.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index::<i64>(1)?.max(0) as u64,
        ));
    }
    Ok(out)
}

/// How many open warnings a tenant has.
pub async fn open_count(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<u64> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) FROM warnings WHERE status = 'open' AND tenant_id = ",
    );
    q.bind(tenant.0);
    Ok(match q.fetch_one(conn).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
        None => 0,
    })
}

/// Closes the open warnings run `run` raised, as resolved by its rollback `by` at `at`.
pub async fn close_for_rollback(
    conn: &impl ConnectionTrait,
    run: RunId,
    by: RunId,
    at: DateTime<Utc>,
) -> AppResult<()> {
    use crate::domain::warning::ROLLED_BACK;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    warnings::Entity::update_many()
        .col_expr(
            warnings::Column::Status,
            Expr::value(WarningStatus::Resolved.as_str()),
        )
        .col_expr(warnings::Column::Resolution, Expr::value(ROLLED_BACK))
        .col_expr(warnings::Column::ResolvedRunId, Expr::value(by.0))
        .col_expr(warnings::Column::ResolvedAt, Expr::value(at))
        .filter(warnings::Column::RunId.eq(run.0))
        .filter(warnings::Column::Status.eq(WarningStatus::Open.as_str()))
        .exec(conn)
        .await?;
    Ok(())
}
