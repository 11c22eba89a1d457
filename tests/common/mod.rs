//! Test databases: a fresh SQLite file per test, or (when `SYNC_MANAGER_TEST_PG` holds a
//! postgres URL) a fresh, uniquely named PostgreSQL database that is dropped afterwards.
#![allow(dead_code)]

pub mod api;
pub mod cli;
pub mod server;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use std::sync::atomic::{AtomicU32, Ordering};
use sync_manager::config::DatabaseUrl;

pub struct TestDb {
    pub db: DatabaseConnection,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>, // (admin url, database name)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).unwrap();
    format!(
        "sm_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex::encode(bytes)
    )
}

/// The PostgreSQL admin URL, if the PostgreSQL half of the suite is enabled.
pub fn pg_url() -> Option<String> {
    std::env::var("SYNC_MANAGER_TEST_PG")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (server, _) = base
        .rsplit_once('/')
        .expect("a postgres URL with a database path");
    format!("{server}/{name}{query}")
}

impl TestDb {
    /// A fresh, migrated database of the given backend (`sqlite` or `postgres`); `None` for
    /// PostgreSQL when `SYNC_MANAGER_TEST_PG` is unset.
    pub async fn new(backend: &str) -> Option<TestDb> {
        let (url, dir, pg) = if backend == "sqlite" {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir), None)
        } else {
            let given = pg_url()?;
            let name = unique_name();
            // The URL's database is only where the test databases are created from: if it
            // does not exist, the server's `postgres` database does as well.
            let (admin, admin_db) = match Database::connect(&given).await {
                Ok(db) => (given, db),
                Err(first) => {
                    let fallback = with_database(&given, "postgres");
                    match Database::connect(&fallback).await {
                        Ok(db) => (fallback, db),
                        Err(_) => panic!(
                            "SYNC_MANAGER_TEST_PG={given} cannot be reached ({first}); give the \
                             URL of a PostgreSQL server where this user may create databases, \
                             e.g. postgres://postgres@127.0.0.1:5432/postgres"
                        ),
                    }
                }
            };
            admin_db
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin_db.close().await.ok();
            (with_database(&admin, &name), None, Some((admin, name)))
        };
        let db = sync_manager::db::open(&DatabaseUrl::parse(&url).unwrap())
            .await
            .unwrap();
        Some(TestDb {
            db,
            url,
            _dir: dir,
            pg,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let db = self.db.clone();
            // Drop the database from a separate runtime: Drop cannot await.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    db.close().await.ok();
                    if let Ok(admin_db) = Database::connect(&admin).await {
                        let _ = admin_db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        admin_db.close().await.ok();
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

/// Defines `NAME_sqlite` and `NAME_postgres` tests running `async fn NAME(db: &DatabaseConnection)`.
/// The PostgreSQL test says it is skipped and returns when `SYNC_MANAGER_TEST_PG` is unset.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let t = $crate::common::TestDb::new("sqlite").await.unwrap();
                    super::$name(&t.db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(pg_tests), ignore = "SYNC_MANAGER_TEST_PG is not set")]
                async fn $name() {
                    let Some(t) = $crate::common::TestDb::new("postgres").await else {
                        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
                        return;
                    };
                    super::$name(&t.db).await;
                }
            )*
        }
    };
}

/// Records a figure for the CI summary (`.ci/run` prints `target/test-report/<area>.txt`,
/// since cargo test shows a passing test's output to nobody).
#[allow(dead_code)]
pub fn report(area: &str, line: &str) {
    use std::io::Write;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-report");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{area}.txt")))
    {
        let _ = writeln!(f, "{line}");
    }
    eprintln!("{line}");
}
