//! The real binary killed (SIGKILL) in the middle of an import and of a sync, on SQLite and
//! (when enabled) PostgreSQL: nothing of the interrupted operation is written, its run is in
//! the audit trail, marked failed ("interrupted") by the next command, and the same command
//! again gives exactly the result of one clean run.
mod common;

use common::cli::Env;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use sync_manager::config::DatabaseUrl;
use sync_manager::entity::{runs, source_properties, target_properties};

const RECORDS: u32 = 40_000;

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

/// Starts `args`, waits until its run of `kind` is recorded as running, and kills it.
async fn kill_while_running(env: &Env, db: &DatabaseConnection, args: &[&str], kind: &str) {
    let mut child = env
        .std_cmd(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let running = runs::Entity::find()
            .filter(runs::Column::Kind.eq(kind))
            .filter(runs::Column::Status.eq("running"))
            .count(db)
            .await
            .unwrap();
        if running > 0 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{args:?} ended ({status}) before its run was seen running");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no running {kind} run"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let it get into the work, then kill it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "{args:?} finished before it could be killed; make the input larger"
    );
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

/// The newest run of `kind`, as the next command sees it.
async fn last_run(db: &DatabaseConnection, kind: &str) -> runs::Model {
    use sea_orm::QueryOrder;
    runs::Entity::find()
        .filter(runs::Column::Kind.eq(kind))
        .order_by_desc(runs::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

async fn killed_import_and_sync_are_recorded_and_can_be_run_again(env: Env) {
    let (t, s, g) = env.setup("{}");
    let db = connect(&env).await;
    let file = env.write("listings.json", &listings(100_000));
    let file = file.to_str().unwrap();

    kill_while_running(&env, &db, &["import", &t, &s, file], "import").await;
    assert_eq!(
        source_properties::Entity::find().count(&db).await.unwrap(),
        0,
        "the killed import wrote records"
    );
    // The next command marks the run interrupted; the same import again is one clean run.
    let out = json(&env, &["import", &t, &s, file]);
    assert_eq!(out["stats"]["created"], RECORDS, "{out}");
    let runs = env.json(&["run", "list", &t]);
    let killed = &runs.as_array().unwrap()[1];
    assert_eq!(killed["kind"], "import", "{runs}");
    assert_eq!(killed["status"], "failed", "{runs}");
    assert!(
        killed["detail"].as_str().unwrap().contains("interrupted"),
        "{runs}"
    );

    kill_while_running(&env, &db, &["sync", &t, &s, &g], "sync").await;
    assert_eq!(
        target_properties::Entity::find().count(&db).await.unwrap(),
        0,
        "the killed sync wrote records"
    );
    let out = json(&env, &["sync", &t, &s, &g]);
    assert_eq!(out["stats"]["created"], RECORDS, "{out}");
    let killed = last_run(&db, "sync").await;
    let killed = runs::Entity::find_by_id(killed.id - 1)
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (killed.kind.as_str(), killed.status.as_str()),
        ("sync", "failed")
    );
    assert!(killed.detail.unwrap_or_default().contains("interrupted"));
    db.close().await.ok();
}

macro_rules! crash_tests {
    ($($name:ident),*) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Env::new("sqlite").await.unwrap()).await }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(pg_tests), ignore = "SYNC_MANAGER_TEST_PG is not set")]
            async fn $name() {
                let Some(env) = super::Env::new("postgres").await else {
                    eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
                    return;
                };
                super::$name(env).await
            }
        )* }
    };
}

crash_tests!(killed_import_and_sync_are_recorded_and_can_be_run_again);
