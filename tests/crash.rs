//! The real binary killed (SIGKILL) in the middle of an import and of a sync, on SQLite and
//! (when enabled) PostgreSQL: nothing of the interrupted operation is written, its run is in
//! the audit trail, marked failed ("interrupted") by the next command, and the same command
//! again gives exactly the result of one clean run.
mod common;

use common::cli::Env;
use common::server::Server;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use sync_manager::config::DatabaseUrl;
use sync_manager::entity::{runs, source_properties, target_properties};

const RECORDS: u32 = 100_000;

fn listings(price: u32) -> Value {
    Value::Array(
        (0..RECORDS)
            .map(|i| {
                json!({
                    "id": format!("PROP{i:06}"),
                    "title": format!("Villa {i}"),
                    "price": price + i,
                    "location": {"city": "Marbella", "lat": 36.5, "lon": -4.9},
                    "features": ["pool", "garden", "sea view"],
                })
            })
            .collect(),
    )
}

async fn connect(env: &Env) -> DatabaseConnection {
    sync_manager::db::connect(&DatabaseUrl::parse(&env.url).unwrap())
        .await
        .unwrap()
}

/// Runs a command with the default settings; its `--json` output.
fn json(env: &Env, args: &[&str]) -> Value {
    let out = env.std_cmd(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every stored record: (external id, hash, data), sorted by id, and whether each hash is the
/// sha256 of its data.
async fn records(db: &DatabaseConnection) -> (Vec<(String, String)>, Vec<(String, String)>) {
    use sync_manager::domain::canonical::sha256_hex;
    let mut sources: Vec<(String, String)> = Vec::new();
    for r in source_properties::Entity::find().all(db).await.unwrap() {
        assert_eq!(
            sha256_hex(r.data.as_bytes()),
            r.hash,
            "{} hash",
            r.external_id
        );
        sources.push((r.external_id, r.hash));
    }
    let mut targets: Vec<(String, String)> = Vec::new();
    for r in target_properties::Entity::find().all(db).await.unwrap() {
        assert_eq!(
            sha256_hex(r.data.as_bytes()),
            r.hash,
            "{} hash",
            r.external_id
        );
        targets.push((r.external_id, r.hash));
    }
    sources.sort();
    targets.sort();
    (sources, targets)
}

/// The database's own checks: SQLite's integrity and foreign key checks; on both, no target
/// record pointing at a missing source record and no run left running.
async fn assert_intact(db: &DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let one = |sql: &str| Statement::from_string(backend, sql.to_string());
    if backend == sea_orm::DatabaseBackend::Sqlite {
        let row = db
            .query_one_raw(one("PRAGMA integrity_check"))
            .await
            .unwrap()
            .unwrap();
        let verdict: String = row.try_get_by_index(0).unwrap();
        assert_eq!(verdict, "ok", "SQLite integrity check");
        let broken = db
            .query_all_raw(one("PRAGMA foreign_key_check"))
            .await
            .unwrap();
        assert!(broken.is_empty(), "{} foreign key violations", broken.len());
    }
    let row = db
        .query_one_raw(one(
            "SELECT COUNT(*) FROM target_properties t WHERE t.source_property_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM source_properties s WHERE s.id = t.source_property_id)",
        ))
        .await
        .unwrap()
        .unwrap();
    let orphans: i64 = row.try_get_by_index(0).unwrap();
    assert_eq!(
        orphans, 0,
        "target records pointing at missing source records"
    );
}

/// The failed runs, oldest first, each with why.
async fn failed_runs(db: &DatabaseConnection, kind: &str) -> Vec<String> {
    use sea_orm::QueryOrder;
    runs::Entity::find()
        .filter(runs::Column::Kind.eq(kind))
        .filter(runs::Column::Status.eq("failed"))
        .order_by_asc(runs::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.detail.unwrap_or_default())
        .collect()
}

/// The kill points, as fractions of the time a clean run of the same work took.
const KILL_AT: [f64; 3] = [0.05, 0.35, 0.7];

/// Runs `args` to completion on a fresh database of the same backend, for the reference
/// result and the time it takes from the start of its run.
async fn reference(
    backend: &str,
) -> Option<(Vec<(String, String)>, Vec<(String, String)>, [Duration; 2])> {
    let env = Env::new(backend).await?;
    let (t, s, g) = env.setup("{}");
    let file = env.write("listings.json", &listings(100_000));
    let file = file.to_str().unwrap();
    let started = Instant::now();
    json(&env, &["import", &t, &s, file]);
    let import = started.elapsed();
    let started = Instant::now();
    json(&env, &["sync", &t, &s, &g]);
    let sync = started.elapsed();
    let db = connect(&env).await;
    let (sources, targets) = records(&db).await;
    db.close().await.ok();
    Some((sources, targets, [import, sync]))
}

/// Starts `args` and kills it `after` its run of `kind` was recorded as running; false when it
/// finished first.
async fn kill_cli_at(
    env: &Env,
    db: &DatabaseConnection,
    args: &[&str],
    kind: &str,
    after: Duration,
) -> bool {
    let mut child = env
        .std_cmd(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_running(db, kind, || child.try_wait().unwrap().is_some()).await;
    tokio::time::sleep(after).await;
    child.kill().unwrap();
    !child.wait().unwrap().success()
}

/// Waits until a run of `kind` is recorded as running (or `ended` says the process is gone).
async fn wait_running(db: &DatabaseConnection, kind: &str, mut ended: impl FnMut() -> bool) {
    let started = Instant::now();
    loop {
        let running = runs::Entity::find()
            .filter(runs::Column::Kind.eq(kind))
            .filter(runs::Column::Status.eq("running"))
            .count(db)
            .await
            .unwrap();
        if running > 0 || ended() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no running {kind} run"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// kill -9 of the CLI at several points of a 100,000-record import and of a sync, and of
/// `serve` in the middle of an import sent to it: after each, the database passes its checks
/// and holds exactly what it held before the killed command (all or nothing), the run is
/// recorded as failed ("interrupted") by the next process, and the same command again gives
/// exactly the records of one clean run.
async fn killed_import_and_sync_are_recorded_and_can_be_run_again(env: Env, backend: &str) {
    let (want_sources, want_targets, [import_took, sync_took]) =
        reference(backend).await.expect("a second database");
    let want = (want_sources, want_targets);
    let (t, s, g) = env.setup("{}");
    let db = connect(&env).await;
    let file = env.write("listings.json", &listings(100_000));
    let file = file.to_str().unwrap();
    let (mut killed_imports, mut killed_syncs) = (0, 0);

    for at in KILL_AT {
        let before = records(&db).await;
        let killed = kill_cli_at(
            &env,
            &db,
            &["import", &t, &s, file],
            "import",
            import_took.mul_f64(at),
        )
        .await;
        // The next command marks the run interrupted.
        env.ok(&["run", "list", &t]);
        assert_intact(&db).await;
        let after = records(&db).await;
        // All or nothing: as before, or (killed after its commit, or not killed) complete.
        if killed && after == before {
            killed_imports += 1;
        } else {
            assert!(
                after.0 == want.0,
                "the import stopped at {at} left part of its work"
            );
        }
    }
    // `serve` killed while an import sent to it runs.
    let key = env.json(&["key", "create", &t])["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let body = std::fs::read(file).unwrap();
    for at in [0.1, 0.5] {
        let before = records(&db).await;
        let mut server = Server::start(&env.url, &[]);
        let request = [
            format!(
                "POST /sources/{s}/import HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            body.clone(),
        ]
        .concat();
        let addr = server.addr.clone();
        let client = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            let _ = stream.write_all(&request);
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out);
            String::from_utf8_lossy(&out).to_string()
        });
        wait_running(&db, "import", || client.is_finished()).await;
        tokio::time::sleep(import_took.mul_f64(at)).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let answer = client.join().unwrap();
        // A new server marks the run interrupted.
        drop(Server::start(&env.url, &[]));
        assert_intact(&db).await;
        let after = records(&db).await;
        if !answer.contains("\"stats\"") && after == before {
            killed_imports += 1;
        } else {
            assert!(
                after.0 == want.0,
                "the import stopped in serve at {at} left part of its work"
            );
        }
    }
    let out = json(&env, &["import", &t, &s, file]);
    assert_eq!(
        out["stats"]["created"].as_u64().unwrap() + out["stats"]["unchanged"].as_u64().unwrap(),
        u64::from(RECORDS),
        "{out}"
    );
    let failed = failed_runs(&db, "import").await;
    assert_eq!(failed.len(), killed_imports, "{failed:?}");
    assert!(
        failed.iter().all(|d| d.contains("interrupted")),
        "{failed:?}"
    );

    for at in KILL_AT {
        let before = records(&db).await;
        let killed = kill_cli_at(
            &env,
            &db,
            &["sync", &t, &s, &g],
            "sync",
            sync_took.mul_f64(at),
        )
        .await;
        env.ok(&["run", "list", &t]);
        assert_intact(&db).await;
        let after = records(&db).await;
        if killed && after == before {
            killed_syncs += 1;
        } else {
            assert!(
                after == want,
                "the sync stopped at {at} left part of its work"
            );
        }
    }
    json(&env, &["sync", &t, &s, &g]);
    let failed = failed_runs(&db, "sync").await;
    assert_eq!(failed.len(), killed_syncs, "{failed:?}");
    assert!(
        failed.iter().all(|d| d.contains("interrupted")),
        "{failed:?}"
    );
    assert!(
        killed_imports >= 2 && killed_syncs >= 1,
        "too few kills landed"
    );

    assert_intact(&db).await;
    assert!(records(&db).await == want, "not the result of a clean run");
    db.close().await.ok();
    common::report(
        "crash",
        &format!(
            "{backend}: {} kill -9 points survived ({killed_imports} imports, CLI and serve; \
             {killed_syncs} syncs)",
            killed_imports + killed_syncs
        ),
    );
}

macro_rules! crash_tests {
    ($($name:ident),*) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Env::new("sqlite").await.unwrap(), "sqlite").await
            }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(pg_tests), ignore = "SYNC_MANAGER_TEST_PG is not set")]
            async fn $name() {
                let Some(env) = super::Env::new("postgres").await else {
                    eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
                    return;
                };
                super::$name(env, "postgres").await
            }
        )* }
    };
}

crash_tests!(killed_import_and_sync_are_recorded_and_can_be_run_again);
