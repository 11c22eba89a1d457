//! How every run ends: its outcome recorded on the run and the request's idempotency key
//! sealed inside the run's transaction, then the commit. The one place a run's changes become
//! durable, so the one place to start what follows them (see ARCHITECTURE.md: nothing leaves
//! the hub inside a request's transaction).
use super::runs;
use crate::entity::runs as run_rows;
use crate::error::AppResult;
use sea_orm::DatabaseTransaction;
use serde::Serialize;

/// Finishes `run` with its stats (and detail) and seals the idempotency key of the request
/// it answers, inside `tx`. An import reads what it keeps of its index between this and
/// [`commit`], while it still holds its source's lock.
pub async fn seal(
    tx: &DatabaseTransaction,
    run: run_rows::Model,
    stats: &impl Serialize,
    detail: Option<serde_json::Value>,
) -> AppResult<run_rows::Model> {
    let run = runs::finish(tx, run, stats, detail).await?;
    super::idempotency::seal(tx).await?;
    Ok(run)
}

/// Commits: from here on the run's changes are durable.
pub async fn commit(tx: DatabaseTransaction) -> AppResult<()> {
    tx.commit().await?;
    Ok(())
}

/// [`seal`], then [`commit`]: the end of a run.
pub async fn run(
    tx: DatabaseTransaction,
    run: run_rows::Model,
    stats: &impl Serialize,
    detail: Option<serde_json::Value>,
) -> AppResult<run_rows::Model> {
    let run = seal(&tx, run, stats, detail).await?;
    commit(tx).await?;
    Ok(run)
}
