//! Runs' rows: their status, finishing them, marking them failed or interrupted.
use crate::db::now;
use crate::domain::run::{STATUS_FAILED, STATUS_RUNNING};
use crate::entity::runs;
use crate::error::AppResult;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::sql::Sql;

/// The status of run `id`, if it exists.
pub async fn status_of(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<String>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT status FROM runs WHERE id = ",
    );
    q.bind(id);
    Ok(match q.fetch_one(conn).await? {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    })
}

/// Marks run `id` failed with `reason`, unless it finished meanwhile.
pub async fn fail(conn: &impl ConnectionTrait, id: i64, reason: &str) -> AppResult<()> {
    runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(STATUS_FAILED))
        .col_expr(
            runs::Column::Detail,
            Expr::value(serde_json::json!({ "error": reason }).to_string()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now()))
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Status.is_in([STATUS_RUNNING, STATUS_FAILED]))
        .exec(conn)
        .await?;
    Ok(())
}

/// Writes the finished state of `run` (status, stats, detail, end) if it is still running;
/// whether it was.
pub async fn finish(conn: &impl ConnectionTrait, run: &runs::Model) -> AppResult<bool> {
    let updated = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(run.status.clone()))
        .col_expr(runs::Column::Stats, Expr::value(run.stats.clone()))
        .col_expr(runs::Column::Detail, Expr::value(run.detail.clone()))
        .col_expr(runs::Column::FinishedAt, Expr::value(run.finished_at))
        .filter(runs::Column::Id.eq(run.id))
        .filter(runs::Column::Status.eq(STATUS_RUNNING))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Marks run `id` failed as interrupted, if it is still running.
pub async fn mark_interrupted(conn: &impl ConnectionTrait, id: i64, reason: &str) -> AppResult<()> {
    runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(STATUS_FAILED))
        .col_expr(
            runs::Column::Detail,
            Expr::value(serde_json::json!({ "error": reason }).to_string()),
        )
        .col_expr(runs::Column::FinishedAt, Expr::value(now()))
        .filter(runs::Column::Id.eq(id))
        .filter(runs::Column::Status.eq(STATUS_RUNNING))
        .exec(conn)
        .await?;
    Ok(())
}
