//! Runs the README's blocks verbatim: the curl quickstart against the real binary serving on a
//! free port, and the CLI workflow with the binary on the PATH.
mod common;

use std::process::Command;

fn quickstart_block() -> String {
    block("<!-- quickstart -->")
}

/// The `sh` block after `marker` in the README.
fn block(marker: &str) -> String {
    block_of(marker, "sh")
}

/// The block of `lang` after `marker` in the README.
fn block_of(marker: &str, lang: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has the {marker} marker"));
    let rest = &readme[start..];
    let fence = format!("```{lang}\n");
    let open = rest.find(&fence).unwrap() + fence.len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

/// Runs `python3 -c code args…` in `dir` with `env`: (exit status, stdout + stderr).
fn python(code: &str, args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(code).args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("python3 runs (.ci/run installs it)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn readme_curl_quickstart_works_against_the_real_server() {
    for tool in ["curl", "jq", "bash"] {
        assert!(
            Command::new(tool).arg("--version").output().is_ok(),
            "{tool} is needed (.ci/run installs it)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("qs.db").display());
    let server = common::server::Server::start(&url, &[]);
    let base = server.base.clone();
    let admin_key = server
        .admin_key
        .clone()
        .expect("a new database prints the admin key");

    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &quickstart_block()])
        .env("SM", &base)
        .env("ADMIN_KEY", &admin_key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_in_order = [
        "\"created\": 2", // import
        "\"created\": 2", // sync
        "true",           // has_manual_changes after the edit
        "1",              // day-2 import updated one record
        "1",              // the sync merged it
        "{\"title\":\"Villa with sea view\",\"price\":899000}",
        "PROP001",
    ];
    let mut rest: &str = &stdout;
    for needle in expected_in_order {
        let at = rest
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in order in:\n{stdout}"));
        rest = &rest[at + needle.len()..];
    }
    drop(server);
}

#[test]
fn readme_cli_workflow_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sync-manager"));
    // Someone ran the Quickstart here: ./sync-manager.db holds real work, which the example
    // must not touch.
    let real = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("SYNC_MANAGER_ADMIN_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    real(&["init"]);
    real(&["create-tenant", "Real Agency"]);
    real(&["source", "create", "1", "live portal"]);
    real(&["target", "create", "1", "live website"]);
    let examples = dir.path().join("examples/data");
    std::fs::create_dir_all(&examples).unwrap();
    for day in ["day1.json", "day2.json"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/data")
                .join(day),
            examples.join(day),
        )
        .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Twice: the second run finds the first one's demo tenant and takes no id for granted.
    for (run, warning) in [(1, 1), (2, 2)] {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &block("<!-- cli-workflow -->")])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("DATABASE_URL")
            .env_remove("SYNC_MANAGER_ADMIN_KEY")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let resolved = format!("Resolved warning {warning} with keep_target");
        let mut expected_in_order = vec![
            "Database ready: the SQLite file /",
            "/demo.db",
            "Created: 5, Updated: 0, Unchanged: 0",
            "Created: 5, Updated: 0, Unchanged: 0, Deleted: 0, Warnings: 0",
            "Created: 1, Updated: 2, Unchanged: 3",
            "Warnings: 1",
            "title: base \"Villa in Marbella\", source \"Villa in Marbella, sea views\", target \"Villa with sea view\"",
            &resolved,
            "\"price\": 899000",
            "\"title\": \"Villa with sea view\"",
        ];
        if run == 1 {
            expected_in_order.insert(2, "Admin key: sma_");
        }
        let mut rest: &str = &stdout;
        for needle in expected_in_order {
            let at = rest
                .find(needle)
                .unwrap_or_else(|| panic!("run {run}: {needle:?} not in order in:\n{stdout}"));
            rest = &rest[at + needle.len()..];
        }
    }
    // The real database has its own tenant, source and target, and nothing of the example.
    let tenants = real(&["tenants", "--json"]);
    let tenants: serde_json::Value = serde_json::from_str(&tenants).unwrap();
    assert_eq!(tenants.as_array().unwrap().len(), 1, "{tenants}");
    assert_eq!(tenants[0]["name"], "Real Agency");
    let props = real(&["property", "list", "1", "--source", "1", "--json"]);
    assert_eq!(props.trim(), "[]", "the live source got nothing");
}

/// The README's "Pull the changes" example, with the website's two functions printing what
/// they would do: the first poll upserts every listing, a later one removes the one the sync
/// deleted and upserts the one that changed.
#[test]
fn readme_pull_example_hears_of_changes_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pull.db").display());
    let server = common::server::Server::start(&url, &[]);
    let key = server.tenant_key("Agency");
    let (_, s) = server.api(
        "POST",
        "/sources",
        &key,
        Some(&serde_json::json!({"name": "portal"})),
    );
    let (_, t) = server.api(
        "POST",
        "/targets",
        &key,
        Some(&serde_json::json!({"name": "website"})),
    );
    let (s, t) = (s["id"].to_string(), t["id"].to_string());
    let import = |records: serde_json::Value| {
        let (status, body) = server.api(
            "POST",
            &format!("/sources/{s}/import"),
            &key,
            Some(&serde_json::json!({"data": records, "mode": "full"})),
        );
        assert_eq!(status, 200, "{body}");
        let (status, body) = server.api("POST", &format!("/sync/{s}/{t}"), &key, None);
        assert_eq!(status, 200, "{body}");
    };
    let listing = |id: &str, price: u32| serde_json::json!({"id": id, "title": id, "price": price});
    import(serde_json::json!([
        listing("P1", 1),
        listing("P2", 2),
        listing("P3", 3)
    ]));
    let code = format!(
        "def upsert_listing(i, data): print('upsert', i, data['price'])\n\
         def remove_listing(i): print('remove', i)\n{}",
        block_of("<!-- pull-changes -->", "python")
    );
    let env = [
        ("SM", server.base.as_str()),
        ("KEY", key.as_str()),
        ("TARGET", t.as_str()),
    ];
    // The poll remembers whole seconds: the first one starts in a second after the sync's.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, out) = python(&code, &[], dir.path(), &env);
    assert_eq!(status, 0, "{out}");
    for line in ["upsert P1 1", "upsert P2 2", "upsert P3 3"] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    // The next second: P2 is sold, P3's price changes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    import(serde_json::json!([listing("P1", 1), listing("P3", 30)]));
    let (status, out) = python(&code, &[], dir.path(), &env);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("remove P2"), "{out}");
    assert!(out.contains("upsert P3 30"), "{out}");
    assert!(
        !out.contains("P1"),
        "only what changed since the last poll: {out}"
    );
}

/// The README's daily job: it imports and syncs with idempotency keys, exits 0 while no
/// warning is open and 1 when one is; run again with the same file it replays instead of
/// importing and syncing again.
#[test]
fn readme_daily_job_fails_when_warnings_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("daily.db").display()
    );
    let server = common::server::Server::start(&url, &[]);
    let key = server.tenant_key("Agency");
    let (_, s) = server.api(
        "POST",
        "/sources",
        &key,
        Some(&serde_json::json!({"name": "portal"})),
    );
    let (_, t) = server.api(
        "POST",
        "/targets",
        &key,
        Some(&serde_json::json!({"name": "website"})),
    );
    let (s, t) = (s["id"].to_string(), t["id"].to_string());
    let job = block_of("<!-- daily-job -->", "python");
    let env = [
        ("SM", server.base.as_str()),
        ("KEY", key.as_str()),
        ("SOURCE", s.as_str()),
        ("TARGET", t.as_str()),
    ];
    let write = |name: &str, title: &str| {
        let records = serde_json::json!([
            {"id": "P1", "title": title, "price": 100},
            {"id": "P2", "title": "Flat", "price": 50}
        ]);
        std::fs::write(dir.path().join(name), records.to_string()).unwrap();
    };
    write("day1.json", "Villa");
    let (status, out) = python(&job, &["day1.json"], dir.path(), &env);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("'created': 2"), "{out}");
    // Someone edits the title on the website; the next export changes it too: a conflict.
    let (status, body) = server.api(
        "PATCH",
        &format!("/targets/{t}/properties/P1"),
        &key,
        Some(&serde_json::json!({"data": {"title": "Villa with sea view"}})),
    );
    assert_eq!(status, 200, "{body}");
    write("day2.json", "Big villa");
    let (status, out) = python(&job, &["day2.json"], dir.path(), &env);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("open warnings: 1; resolve them at"), "{out}");
    let (_, runs) = server.api("GET", "/runs", &key, None);
    let runs = runs.as_array().unwrap().len();
    // The same file again (a retry): the first answers, no new run; still failing.
    let (status, out) = python(&job, &["day2.json"], dir.path(), &env);
    assert_eq!(status, 1, "{out}");
    let (_, again) = server.api("GET", "/runs", &key, None);
    assert_eq!(
        again.as_array().unwrap().len(),
        runs,
        "replayed, not run again"
    );
}
