//! How writers of records are serialised (SPEC §4 "Concurrency", §7): whatever the
//! interleaving of two writers of a record, in one process or several, the outcome is one that
//! running them one after the other would give, so no manual edit is ever lost silently.
//!
//! Writers of a source's or a target's records come in two sizes:
//! * **bulk writers** decide about many records from one read and then write them with
//!   set-based statements: an import (its source), a sync (its target), a rollback (the source
//!   or target of the run), deleting a source or a target. Nothing else may write those records
//!   between their read and their write, so they take the owner's lock **exclusively**.
//! * **single-record writers** read one record, change it and write it back: a manual edit,
//!   manual entry, a warning's resolution, a snapshot's restore. They take the owner's lock
//!   **shared** (they need not wait for each other) and then read the one row they change with
//!   `SELECT … FOR UPDATE` (sea-orm's `lock_exclusive`), so two of them on the same record queue up
//!   instead of one overwriting what the other read.
//!
//! A sync also takes its *source's* lock shared: an import into that source waits for the
//! sync (and the sync for the import), so a sync always reads one import's complete result.
//! Locks are taken source first, then target, and at most one of each, so two writers can
//! never wait for each other in a circle.
//!
//! On PostgreSQL the owner's lock is a transaction-level advisory lock
//! (`pg_advisory_xact_lock[_shared]`): it holds across processes and connections, and commit,
//! rollback or the end of a dead process's connection releases it. On SQLite every writing
//! transaction starts with `BEGIN IMMEDIATE` ([`crate::db::begin_write`]), which already admits
//! one writer at a time across processes, so there is nothing more to take.
//!
//! Why owner locks and not row locks for the bulk writers: a sync reads both sides as
//! aggregated pages and writes with `INSERT … SELECT` / `UPDATE … FROM`; locking every row it
//! may touch first (`FOR UPDATE` of up to 100,000 rows) would write each of those rows twice
//! in PostgreSQL (the lock is a tuple write) and could not cover the rows it creates. One
//! advisory lock costs one statement. The price is that a manual edit arriving during a sync
//! of the same target waits until the sync commits (about a second per 100,000 changed
//! records), which is the serial order the promise asks for.
use super::sql::Sql;
use crate::error::AppResult;
use crate::ids::Owner;
use sea_orm::{ConnectionTrait, DbBackend};

/// How a writer holds an owner's lock (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A bulk writer: nobody else writes the owner's records meanwhile.
    Exclusive,
    /// A single-record writer: other single-record writers may run, bulk writers wait.
    Shared,
}

/// The advisory lock classes (the first key of the two-key form), one per kind of thing
/// locked, registered here so that no two kinds share one.
const SOURCE_RECORDS: i32 = 1;
const TARGET_RECORDS: i32 = 2;
/// A run's lock: held by the transaction of a long run while it works (see `service::runs`).
const RUN: i32 = 3;

/// The advisory lock class of an owner's records, and its key.
fn class(owner: Owner) -> (i32, i64) {
    match owner {
        Owner::Source(id) => (SOURCE_RECORDS, id.0),
        Owner::Target(id) => (TARGET_RECORDS, id.0),
    }
}

/// Takes run `id`'s lock until `tx` ends (PostgreSQL; a no-op on SQLite).
pub async fn lock_run(tx: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut q = Sql::new(DbBackend::Postgres, "SELECT pg_advisory_xact_lock(");
    q.bind(RUN).push(", ").bind(id as i32).push(")");
    q.execute(tx).await?;
    Ok(())
}

/// Takes run `id`'s lock until `tx` ends if nobody holds it; whether it did (PostgreSQL).
pub async fn try_lock_run(tx: &impl ConnectionTrait, id: i64) -> AppResult<bool> {
    let mut q = Sql::new(DbBackend::Postgres, "SELECT pg_try_advisory_xact_lock(");
    q.bind(RUN).push(", ").bind(id as i32).push(")");
    Ok(match q.fetch_one(tx).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => false,
    })
}

/// Takes run `id`'s lock until `tx` ends, waiting at most `secs` seconds; whether it did
/// (PostgreSQL).
pub async fn lock_run_within(tx: &impl ConnectionTrait, id: i64, secs: u64) -> AppResult<bool> {
    tx.execute_unprepared(&format!("SET LOCAL lock_timeout = '{secs}s'"))
        .await?;
    let mut q = Sql::new(DbBackend::Postgres, "SELECT pg_advisory_xact_lock(");
    q.bind(RUN).push(", ").bind(id as i32).push(")");
    match q.execute(tx).await {
        Ok(_) => Ok(true),
        Err(e) if e.to_string().contains("lock timeout") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes `owner`'s lock in `mode` until the transaction `tx` ends (PostgreSQL; a no-op on
/// SQLite, see the module documentation).
pub async fn lock(tx: &impl ConnectionTrait, owner: Owner, mode: Mode) -> AppResult<()> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let function = match mode {
        Mode::Exclusive => "SELECT pg_advisory_xact_lock(",
        Mode::Shared => "SELECT pg_advisory_xact_lock_shared(",
    };
    let (class, id) = class(owner);
    // Ids past 2^31 share a lock with a smaller one: harmless, they only wait more.
    let mut q = Sql::new(DbBackend::Postgres, function);
    q.bind(class).push(", ").bind(id as i32).push(")");
    q.execute(tx).await?;
    Ok(())
}
