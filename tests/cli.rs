//! End-to-end tests of the real `sync-manager` binary: the real-estate day-1/day-2 workflow,
//! manual edits surviving syncs, full imports and the mass-delete guard, dry runs, restore,
//! rollback, cleanup, and bad input.
mod common;

use assert_cmd::Command;
use serde_json::{Value, json};
use std::path::Path;

use common::cli::Env;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn listing(i: u32, title: &str, price: u32) -> Value {
    json!({
        "id": format!("PROP{i:03}"),
        "title": title,
        "price": price,
        "currency": "EUR",
        "location": {"city": "Marbella", "lat": 36.5, "lon": -4.9},
        "features": ["pool", "sea view"],
    })
}

fn day1() -> Value {
    json!(
        (1..=5)
            .map(|i| listing(i, &format!("Villa {i}"), 100_000 * i))
            .collect::<Vec<_>>()
    )
}

async fn day1_day2_workflow(env: Env) {
    let (t, s, g) = env.setup(r#"{"conflict_policy": "merge"}"#);
    let f1 = env.write("day1.json", &day1());
    let out = env.ok(&["import", &t, &s, p(&f1)]);
    assert!(
        out.contains("Created: 5, Updated: 0, Unchanged: 0, Deleted: 0, Restored: 0, Rejected: 0"),
        "{out}"
    );
    let out = env.ok(&["sync", &t, &s, &g]);
    assert!(
        out.contains("Created: 5, Updated: 0, Unchanged: 0, Deleted: 0, Warnings: 0"),
        "{out}"
    );

    // The agent fixes two listings by hand on the website.
    env.ok(&[
        "property",
        "edit",
        &t,
        "PROP001",
        r#"{"data": {"title": "Villa 1 with sea view"}}"#,
        "--target",
        &g,
    ]);
    env.ok(&[
        "property",
        "edit",
        &t,
        "PROP003",
        r#"{"data": {"price": 290000}}"#,
        "--target",
        &g,
    ]);
    let manual = env.json(&["property", "list", &t, "--target", &g, "--manual"]);
    assert_eq!(manual.as_array().unwrap().len(), 2);

    // Day 2: PROP001 and PROP003 get new prices, PROP002 a new title, PROP006 is new.
    let mut day2 = day1();
    day2[0]["price"] = json!(95_000);
    day2[1]["title"] = json!("Villa 2, renovated");
    day2[2]["price"] = json!(310_000);
    day2.as_array_mut()
        .unwrap()
        .push(listing(6, "Villa 6", 600_000));
    let f2 = env.write("day2.json", &day2);
    let out = env.ok(&["import", &t, &s, p(&f2)]);
    assert!(
        out.contains("Created: 1, Updated: 3, Unchanged: 2, Deleted: 0"),
        "{out}"
    );
    let out = env.ok(&["sync", &t, &s, &g]);
    assert!(
        out.contains("Created: 1, Updated: 2, Unchanged: 3, Deleted: 0, Warnings: 1"),
        "{out}"
    );
    assert!(
        out.contains("price: base 300000, source 310000, target 290000"),
        "{out}"
    );

    // The non-conflicting manual edit survived and the source change was merged in.
    let p1 = env.json(&["property", "show", &t, "PROP001", "--target", &g]);
    let data: Value = serde_json::from_str(p1["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["title"], "Villa 1 with sea view");
    assert_eq!(data["price"], 95_000);
    assert_eq!(p1["has_manual_changes"], true);
    // The conflicting one kept the manual value, with an open warning.
    let p3 = env.json(&["property", "show", &t, "PROP003", "--target", &g]);
    assert!(p3["data"].as_str().unwrap().contains("290000"));
    let warnings = env.json(&["warning", "list", &t]);
    assert_eq!(warnings.as_array().unwrap().len(), 1);
    assert_eq!(warnings[0]["kind"], "conflict");
    assert_eq!(warnings[0]["external_id"], "PROP003");
    let listed = env.ok(&["warning", "list", &t]);
    assert!(
        listed.contains("price: base 300000, source 310000, target 290000"),
        "{listed}"
    );

    // Resolve it by taking the source value.
    let wid = warnings[0]["id"].to_string();
    let out = env.ok(&["warning", "resolve", &t, &wid, "take_source"]);
    assert!(out.contains("target updated"), "{out}");
    let p3 = env.json(&["property", "show", &t, "PROP003", "--target", &g]);
    assert!(p3["data"].as_str().unwrap().contains("310000"));
    assert!(
        env.ok(&["warning", "list", &t])
            .contains("No open warnings")
    );

    // Nothing left to do.
    let out = env.ok(&["sync", &t, &s, &g]);
    assert!(
        out.contains("Created: 0, Updated: 0, Unchanged: 6, Deleted: 0, Warnings: 0"),
        "{out}"
    );
    let runs = env.json(&["run", "list", &t]);
    assert!(runs.as_array().unwrap().len() >= 8);
}

async fn full_import_and_mass_delete_guard(env: Env) {
    let (t, s, g) = env.setup("{}");
    let all: Vec<Value> = (1..=10).map(|i| listing(i, "V", i)).collect();
    env.ok(&["import", &t, &s, p(&env.write("all.json", &json!(all)))]);
    env.ok(&["sync", &t, &s, &g]);
    // Two listings were sold: a full import of the other eight deletes them.
    let out = env.ok(&[
        "import",
        &t,
        &s,
        p(&env.write("eight.json", &json!(all[..8]))),
        "--full",
    ]);
    assert!(out.contains("Deleted: 2"), "{out}");
    let out = env.ok(&["sync", &t, &s, &g]);
    assert!(out.contains("Deleted: 2"), "{out}");
    assert_eq!(
        env.json(&["property", "list", &t, "--target", &g])
            .as_array()
            .unwrap()
            .len(),
        8
    );
    // A broken scrape with two listings must not wipe the website.
    let broken = env.write("broken.json", &json!(all[..2]));
    let err = env.fail(&["import", &t, &s, p(&broken), "--full"]);
    assert!(
        err.contains("refusing a full import that would delete 6 of 8"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        env.json(&["property", "list", &t, "--source", &s])
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let out = env.ok(&["import", &t, &s, p(&broken), "--full", "--force"]);
    assert!(out.contains("Deleted: 6"), "{out}");
}

async fn dry_runs_restore_rollback_cleanup(env: Env) {
    let (t, s, g) = env.setup("{}");
    let f1 = env.write("day1.json", &day1());
    let out = env.ok(&["import", &t, &s, p(&f1), "--dry-run"]);
    assert!(
        out.contains("Dry run") && out.contains("Created: 5"),
        "{out}"
    );
    assert_eq!(
        env.json(&["property", "list", &t, "--source", &s])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The refused imports are in the audit trail, as failed runs that changed nothing.
    let runs = env.json(&["run", "list", &t]);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "failed" && r["detail"].as_str().unwrap().contains("error")),
        "{runs}"
    );
    env.ok(&["import", &t, &s, p(&f1)]);
    let out = env.ok(&["sync", &t, &s, &g, "--dry-run"]);
    assert!(
        out.contains("create PROP001") && out.contains("Created: 5"),
        "{out}"
    );
    assert_eq!(
        env.json(&["property", "list", &t, "--target", &g])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    env.ok(&["sync", &t, &s, &g]);

    // A manual edit, then restore of the version before it.
    env.ok(&[
        "property",
        "edit",
        &t,
        "PROP002",
        r#"{"data": {"title": "Oops"}}"#,
        "--target",
        &g,
    ]);
    let snaps = env.json(&["snapshot", "list", &t, "PROP002", "--target", &g]);
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    let out = env.ok(&["snapshot", "restore", &t, &snaps[0]["id"].to_string()]);
    assert!(out.contains("Restored snapshot"), "{out}");
    let p2 = env.json(&["property", "show", &t, "PROP002", "--target", &g]);
    assert!(p2["data"].as_str().unwrap().contains("Villa 2"));
    assert_eq!(p2["has_manual_changes"], false);

    // A day-2 sync, rolled back.
    let mut day2 = day1();
    day2[4]["price"] = json!(1);
    env.ok(&["import", &t, &s, p(&env.write("day2.json", &day2))]);
    let sync = env.json(&["sync", &t, &s, &g]);
    assert_eq!(sync["stats"]["updated"], 1);
    let run = sync["run_id"].to_string();
    let out = env.ok(&["run", "rollback", &t, &run]);
    assert!(out.contains("Restored: 1, Removed: 0, Skipped: 0"), "{out}");
    let p5 = env.json(&["property", "show", &t, "PROP005", "--target", &g]);
    assert!(p5["data"].as_str().unwrap().contains("500000"));
    let err = env.fail(&["run", "rollback", &t, &run]);
    assert!(err.contains("already rolled back"), "{err}");

    // Cleanup by age.
    let out = env.ok(&["cleanup", &t]);
    assert!(
        out.contains("older than 30 days") && out.contains("Snapshots: 0"),
        "{out}"
    );
    let dry = env.json(&["cleanup", &t, "--days", "0", "--dry-run"]);
    let n = dry["snapshots"].as_u64().unwrap();
    assert!(n >= 3, "{dry}");
    let out = env.ok(&["cleanup", &t, "--days", "0"]);
    assert!(out.contains(&format!("Snapshots: {n}")), "{out}");
    assert_eq!(
        env.json(&["snapshot", "list", &t, "PROP002", "--target", &g])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn bad_input_gives_clear_errors_and_writes_nothing(env: Env) {
    let (t, s, g) = env.setup("{}");
    let obj = env.write("obj.json", &json!({"id": "PROP001"}));
    let err = env.fail(&["import", &t, &s, p(&obj)]);
    assert!(err.contains("must be a JSON array"), "{err}");
    let broken = env.dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"id\": \"A\"},\n {\"id\": ").unwrap();
    let err = env.fail(&["import", &t, &s, p(&broken)]);
    assert!(err.contains("line 2"), "{err}");
    let mixed = env.write(
        "mixed.json",
        &json!([listing(1, "A", 1), {"title": "no id"}, 42, listing(2, "B", 2)]),
    );
    let err = env.fail(&["import", &t, &s, p(&mixed), "--strict"]);
    assert!(
        err.contains("strict import rejected the whole batch: 2 invalid records"),
        "{err}"
    );
    assert!(err.contains("record 1:"), "{err}");
    let err = env.fail(&["import", &t, &s, p(&env.dir.path().join("missing.json"))]);
    assert!(
        err.contains("cannot open") && err.contains("missing.json"),
        "{err}"
    );
    let err = env.fail(&["import", "999", &s, p(&mixed)]);
    assert!(err.contains("tenant 999 not found"), "{err}");
    let err = env.fail(&["import", &t, "999", p(&mixed)]);
    assert!(err.contains("source 999 not found"), "{err}");
    let err = env.fail(&["sync", &t, &s, "999"]);
    assert!(err.contains("target 999 not found"), "{err}");
    let err = env.fail(&["sync", &t, "abc", &g]);
    assert!(err.contains("positive integer"), "{err}");
    let err = env.fail(&["cleanup", "999"]);
    assert!(err.contains("tenant 999 not found"), "{err}");
    let err = env.fail(&[
        "target",
        "create",
        &t,
        "x",
        "--config",
        r#"{"conflict_policy": "newest"}"#,
    ]);
    assert!(err.contains("merge, keep_target, overwrite"), "{err}");
    let err = env.fail(&["source", "create", &t, "x", "--config", "{not json"]);
    assert!(err.contains("--config is not valid JSON"), "{err}");
    // Nothing of the above was written.
    assert_eq!(
        env.json(&["property", "list", &t, "--source", &s])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The refused imports are in the audit trail, as failed runs that changed nothing.
    let runs = env.json(&["run", "list", &t]);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "failed" && r["detail"].as_str().unwrap().contains("error")),
        "{runs}"
    );
    // Without --strict the valid records go in, the others are reported, and the exit status
    // (3) tells a cron job that some were rejected.
    let (out, err) = env.exits(3, &["import", &t, &s, p(&mixed)]);
    assert!(err.contains("2 records were rejected"), "{err}");
    assert!(
        out.contains("Created: 2") && out.contains("Rejected: 2"),
        "{out}"
    );
    assert!(
        out.contains("record 2: record is not a JSON object"),
        "{out}"
    );
    // stdin works.
    let out = env
        .cmd(&["import", &t, &s, "-"])
        .write_stdin(json!([listing(7, "S", 7)]).to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created: 1"));
    let err = env.fail(&["property", "edit", &t, "PROP001", "{bad", "--target", &g]);
    assert!(err.contains("not valid JSON"), "{err}");
}

/// A re-import from a file, past the input held while the index loads (two elements here):
/// records the same as stored are not parsed, every other one is read again from the file, and
/// each record counts once, whatever the order of an id's duplicates.
async fn reimport_from_a_file_counts_every_record_once(env: Env) {
    let (t, s, _) = env.setup("{}");
    let day1 = day1();
    env.ok(&["import", &t, &s, p(&env.write("day1.json", &day1))]);
    let changed = |i: usize| {
        let mut record = day1[i].clone();
        record["price"] = json!(1);
        record
    };
    // 0 changed then as stored; 1 changed; 2 as stored; 3 as stored twice; 4 as stored then
    // changed.
    let day2 = json!([
        changed(0),
        changed(1),
        day1[2],
        day1[3],
        day1[4],
        day1[3],
        changed(4),
        day1[0]
    ]);
    let out = env.json(&["import", &t, &s, p(&env.write("day2.json", &day2))]);
    assert_eq!(
        out["stats"],
        json!({"created": 0, "updated": 2, "unchanged": 3, "deleted": 0, "restored": 0,
               "rejected": 0}),
        "{out}"
    );
    let superseded: Vec<(u64, String)> = out["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let by = |i: u64, later: u64| (i, format!("superseded by record {later} with the same id"));
    assert_eq!(superseded, [by(3, 5), by(4, 6), by(0, 7)], "{out}");
    for (id, price) in [("PROP001", 100_000), ("PROP002", 1), ("PROP005", 1)] {
        let record = env.json(&["property", "show", &t, id, "--source", &s]);
        let data: Value = serde_json::from_str(record["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["price"], price, "{id}");
    }
    // The same file again: all unchanged.
    let out = env.json(&["import", &t, &s, p(&env.write("day2.json", &day2))]);
    assert_eq!(out["stats"]["unchanged"], 5, "{out}");
}

/// A cron job that retries with the same `--idempotency-key` imports and syncs once.
async fn idempotency_keys_make_retries_safe(env: Env) {
    let (t, s, g) = env.setup("{}");
    let day1 = env.write(
        "day1.json",
        &json!([listing(1, "Villa", 1), listing(2, "Flat", 2)]),
    );
    let key = ["--idempotency-key", "2026-12-02"];
    let import = |extra: &[&str]| {
        let mut args = vec!["import", &t, &s, p(&day1)];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<String>>()
    };
    let args = import(&key);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(env.ok(&args).contains("Created: 2"));
    let again = env.ok(&args);
    assert!(
        again.contains("Already imported under this idempotency key"),
        "{again}"
    );
    assert!(again.contains("Created: 2"), "{again}");
    let day2 = env.write("day2.json", &json!([listing(3, "House", 3)]));
    let err = env.fail(&["import", &t, &s, p(&day2), key[0], key[1]]);
    assert!(err.contains("used for another command or input"), "{err}");
    let err = env.fail(&["import", &t, &s, "-", key[0], key[1]]);
    assert!(err.contains("needs a file"), "{err}");
    let sync = ["sync", &t, &s, &g, "--idempotency-key", "sync-1"];
    assert!(env.ok(&sync).contains("Created: 2"));
    assert!(env.ok(&sync).contains("Already synced"));
    let runs = env.json(&["run", "list", &t]);
    let kinds: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sync", "import"], "one of each: {runs}");
}

macro_rules! cli_tests {
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

cli_tests!(
    day1_day2_workflow,
    full_import_and_mass_delete_guard,
    dry_runs_restore_rollback_cleanup,
    bad_input_gives_clear_errors_and_writes_nothing,
    reimport_from_a_file_counts_every_record_once,
    idempotency_keys_make_retries_safe,
    formats_settings_and_warnings_like_the_api,
    a_lost_admin_key_is_rotated
);

#[test]
fn help_explains_every_command() {
    let out = Command::cargo_bin("sync-manager")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "init",
        "create-tenant",
        "import",
        "sync",
        "cleanup",
        "source",
        "target",
        "warning",
        "run",
        "snapshot",
        "property",
        "key",
        "tenants",
    ] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
    let out = Command::cargo_bin("sync-manager")
        .unwrap()
        .args(["import", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--full") && text.contains("--dry-run") && text.contains("--strict"),
        "{text}"
    );
}

/// Output into a pipe nobody reads any more (`sync-manager … | head`) ends the command with
/// status 141, as SIGPIPE ends other programs, not with a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pipe.db").display());
    for args in [vec!["--help"], vec!["--database-url", &url, "init"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sync-manager"))
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Issue 20 §1, §7, §9, §10: the CLI refuses settings a type does not understand, reads the
/// formats the API reads (and refuses the others the same way), shows a dry run's records
/// with their titles, and exits 4 with `--fail-on-warnings` when a run raised warnings.
async fn formats_settings_and_warnings_like_the_api(env: Env) {
    let (t, s, g) = env.setup("{\"conflict_policy\": \"merge\"}");
    let err = env.fail(&[
        "target",
        "create",
        &t,
        "hook",
        "--type",
        "webhook",
        "--config",
        "{\"url\": \"https://example.com/hook\"}",
    ]);
    assert!(
        err.contains("\"url\" is not a setting of a webhook target (records are kept here; nothing is sent yet); the settings it understands are: conflict_policy, delete_policy"),
        "{err}"
    );
    let err = env.fail(&[
        "source",
        "update",
        &t,
        &s,
        "--config",
        "{\"inbox\": \"in\"}",
    ]);
    assert!(err.contains("max_delete_fraction"), "{err}");
    // The same formats as the API: {"data": [...]}, NDJSON by name or by content.
    let dir = env.dir.path();
    std::fs::write(
        dir.join("env.json"),
        r#"{"data": [{"id": "A1", "title": "Flat"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("lines.ndjson"),
        "{\"id\": \"A2\", \"title\": \"Loft\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lines.json"),
        "{\"id\": \"A3\"}\n{\"id\": \"A4\"}\n",
    )
    .unwrap();
    for (file, created) in [("env.json", 1), ("lines.ndjson", 1), ("lines.json", 2)] {
        let out = env.json(&["import", &t, &s, p(&dir.join(file))]);
        assert_eq!(out["stats"]["created"], created, "{file}: {out}");
    }
    // Anything else: the API's words, nothing written.
    std::fs::write(dir.join("one.json"), r#"{"id": "B1", "title": "Villa"}"#).unwrap();
    std::fs::write(dir.join("export.csv"), "id,title\nB2,Villa\n").unwrap();
    std::fs::write(dir.join("export.txt"), "id;title\nB2;Villa\n").unwrap();
    std::fs::write(dir.join("empty.json"), "\n").unwrap();
    for (file, said) in [
        ("one.json", "this is a single object"),
        (
            "export.csv",
            "this file looks like CSV: CSV import is not there yet",
        ),
        ("export.txt", "this file looks like CSV"),
        ("empty.json", "the input is empty"),
    ] {
        let err = env.fail(&["import", &t, &s, p(&dir.join(file))]);
        assert!(err.contains(said), "{file}: {err}");
    }
    let mut stdin = env.cmd(&["import", &t, &s, "-"]);
    let out = stdin.write_stdin("{\"id\": \"B3\"}").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this is a single object"),
        "{out:?}"
    );
    let listed = env.json(&["property", "list", &t, "--source", &s]);
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
    // A dry run names the records it would change.
    let changed =
        json!([{"id": "A1", "title": "Flat", "price": 5}, {"id": "A9", "title": "New one"}]);
    let file = env.write("changed.json", &changed);
    let plan = env.ok(&["import", &t, &s, p(&file), "--dry-run"]);
    assert!(plan.contains("updated A1 “Flat” (price)"), "{plan}");
    assert!(plan.contains("created A9 “New one”"), "{plan}");
    // --fail-on-warnings: 4 when the sync raised a warning, 0 when it raised none.
    env.ok(&["sync", &t, &s, &g, "--fail-on-warnings"]);
    env.ok(&[
        "property",
        "edit",
        &t,
        "A1",
        "{\"data\": {\"title\": \"Flat with terrace\"}}",
        "--target",
        &g,
    ]);
    let day2 = env.write("day2.json", &json!([{"id": "A1", "title": "Big flat"}]));
    env.ok(&["import", &t, &s, p(&day2)]);
    let (out, err) = env.exits(4, &["sync", &t, &s, &g, "--fail-on-warnings"]);
    assert!(out.contains("Warnings: 1"), "{out}");
    assert!(
        err.contains("the sync raised 1 warning: someone must decide"),
        "{err}"
    );
    // An import that rejected a record: 3, or 4 with --fail-on-warnings.
    let bad = env.write("bad.json", &json!([{"id": "C1"}, {"title": "no id"}]));
    env.exits(3, &["import", &t, &s, p(&bad)]);
    env.exits(4, &["import", &t, &s, p(&bad), "--fail-on-warnings"]);
    // A patch without "data" says what a patch looks like.
    let err = env.fail(&[
        "property",
        "edit",
        &t,
        "A1",
        "{\"title\": \"x\"}",
        "--target",
        &g,
    ]);
    assert!(
        err.contains("a patch must look like {\"data\": {...}}"),
        "{err}"
    );
}

/// Issue 20 §5: a lost admin key is replaced with `admin-key rotate`; the old one stops
/// working at once.
async fn a_lost_admin_key_is_rotated(env: Env) {
    let init = env.json(&["init"]);
    let old = init["admin_key"].as_str().unwrap().to_string();
    let out = env.ok(&["admin-key", "rotate"]);
    let new = out
        .lines()
        .find_map(|l| l.strip_prefix("Admin key: "))
        .expect("the new key is printed")
        .to_string();
    assert!(new.starts_with("sma_") && new != old, "{out}");
    assert!(out.contains("not shown again"), "{out}");
    let db = sync_manager::db::open(&sync_manager::config::DatabaseUrl::parse(&env.url).unwrap())
        .await
        .unwrap();
    use sync_manager::service::keys::{Principal, authenticate};
    assert!(
        authenticate(&db, &old).await.is_err(),
        "the old key is revoked"
    );
    assert!(matches!(
        authenticate(&db, &new).await.unwrap(),
        Principal::Admin { .. }
    ));
    db.close().await.ok();
}

/// Issue 20 §10 and the help of the new commands: braces in examples are printed once.
#[test]
fn help_prints_examples_as_they_are_typed() {
    let help = |args: &[&str]| {
        let out = Command::cargo_bin("sync-manager")
            .unwrap()
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    for args in [
        &["--help"][..],
        &["property", "--help"],
        &["source", "--help"],
        &["target", "--help"],
        &["admin-key", "--help"],
    ] {
        let text = help(args);
        assert!(!text.contains("{{"), "{args:?} doubles braces:\n{text}");
    }
    let edit = help(&["property", "edit", "--help"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        edit.contains("'{\"data\": {\"title\": \"New\", \"pool\": null}}'"),
        "{edit}"
    );
    let target = help(&["target", "create", "--help"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(target.contains("nothing is sent yet"), "{target}");
    assert!(help(&["--help"]).contains("admin-key"));
    assert!(help(&["sync", "--help"]).contains("--fail-on-warnings"));
}

/// Issue 20 §5 and §6: `serve` listens before it makes the admin key (a server that cannot
/// listen prints none and says to use --bind); `health` asks where `serve` listens and takes
/// the base URL.
#[test]
fn serve_listens_first_and_health_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sync-manager"))
        .args(["serve", "--bind", &addr])
        .env("DATABASE_URL", &url)
        .env_remove("SYNC_MANAGER_ADMIN_KEY")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot listen on") && stderr.contains("--bind"),
        "{stderr}"
    );
    assert!(!stdout.contains("Admin key"), "no key printed: {stdout}");
    drop(taken);
    // The next start on the same (still new) database shows the key.
    let server = common::server::Server::start(&url, &[]);
    assert!(
        server.admin_key.is_some(),
        "the key is shown when it is made"
    );
    let health = |args: &[&str], bind: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sync-manager"));
        cmd.arg("health").args(args);
        match bind {
            Some(b) => cmd.env("SYNC_MANAGER_BIND", b),
            None => cmd.env_remove("SYNC_MANAGER_BIND"),
        };
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    for (args, bind) in [
        (vec!["--url".to_string(), server.base.clone()], None),
        (vec!["--url".to_string(), format!("{}/", server.base)], None),
        (
            vec!["--url".to_string(), format!("{}/health", server.base)],
            None,
        ),
        (vec![], Some(server.addr.as_str())),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, said) = health(&args, bind);
        assert!(ok, "{args:?} {bind:?}: {said}");
        assert!(said.contains("healthy"), "{said}");
    }
}
