//! Connecting to the database and migrating it.
use crate::config::DatabaseUrl;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// Who the pool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// The server and tests: concurrent requests.
    Server,
    /// `serve`: as `Server`, and SQLite's checkpoints (folding the write-ahead log back into
    /// the database) are run by a task of their own (`checkpoint_in_background`), not by the
    /// request whose commit crossed the log's threshold: that took ~0.25 s of the answer to an
    /// import of 100,000 new records.
    Serve,
    /// One CLI command: one statement at a time. On PostgreSQL a single connection, as each
    /// new one costs a server process start (tens of milliseconds).
    Command,
}

/// Opens a pool. SQLite gets WAL, foreign keys, a busy timeout and `synchronous=NORMAL`.
pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, DbErr> {
    connect_for(url, Use::Server).await
}

/// `connect`, sized for `usage`.
pub async fn connect_for(url: &DatabaseUrl, usage: Use) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.expose().to_string());
    opts.sqlx_logging(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10));
    if url.is_postgres() {
        let max = if usage == Use::Command { 1 } else { 16 };
        opts.max_connections(max).min_connections(0);
    } else {
        // One in-memory database per connection: never pool more than one.
        let size = if url.expose().contains(":memory:") || url.expose().contains("mode=memory") {
            1
        } else {
            4
        };
        opts.max_connections(size).min_connections(1);
        // The page cache, per connection: a command has one, the server up to four, and a
        // request must stay in bounded memory (an HTTP import of a million records).
        let cache_kib = if usage == Use::Command { 65536 } else { 16384 };
        // SQLite's default, or none: then `checkpoint_in_background` runs them.
        let autocheckpoint = if usage == Use::Serve { "0" } else { "1000" };
        opts.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", format!("-{cache_kib}"))
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", autocheckpoint)
        });
    }
    Database::connect(opts).await
}

/// How often `checkpoint_in_background` folds the write-ahead log back.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// On SQLite opened for `Use::Serve`: checkpoints the write-ahead log every second (passive:
/// it waits for no reader or writer, and does nothing when the log is already folded back),
/// so that the log stays small without a request paying for it. Ends with the runtime.
pub fn checkpoint_in_background(db: DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(
                    "checkpoint of the write-ahead log failed (tried again in 1 s): {e}"
                );
            }
        }
    });
}

/// Applies every pending migration (idempotent).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Connects and migrates.
pub async fn open(url: &DatabaseUrl) -> Result<DatabaseConnection, DbErr> {
    open_for(url, Use::Server).await
}

/// `open`, sized for `usage`.
pub async fn open_for(url: &DatabaseUrl, usage: Use) -> Result<DatabaseConnection, DbErr> {
    let db = connect_for(url, usage).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails to upgrade its lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// Whether several processes may share this database (PostgreSQL): then what one process
/// holds in memory says nothing of the others, and long work tells them it is alive.
pub fn is_shared(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Whether the database answers a query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

/// Now, truncated to microseconds (what PostgreSQL stores), so values read back compare equal.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
