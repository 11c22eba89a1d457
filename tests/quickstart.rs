//! Runs the README's blocks verbatim: the curl quickstart against the real binary serving on a
//! free port, and the CLI workflow with the binary on the PATH.
mod common;

use std::process::Command;

fn quickstart_block() -> String {
    block("<!-- quickstart -->")
}

/// The `sh` block after `marker` in the README.
fn block(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has the {marker} marker"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").unwrap() + "```sh\n".len();
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
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
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_sync-manager"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block("<!-- cli-workflow -->")])
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("DATABASE_URL")
        .env_remove("SYNC_MANAGER_ADMIN_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_in_order = [
        "Database ready: the SQLite file /",
        "Admin key: sma_",
        "Tenant id: 1",
        "API key: sm_",
        "Created source 1",
        "Created target 1",
        "Created: 5, Updated: 0, Unchanged: 0",
        "Created: 5, Updated: 0, Unchanged: 0, Deleted: 0, Warnings: 0",
        "Created: 1, Updated: 2, Unchanged: 3",
        "Warnings: 1",
        "title: base \"Villa in Marbella\", source \"Villa in Marbella, sea views\", target \"Villa with sea view\"",
        "Resolved warning 1 with keep_target",
        "\"price\": 899000",
        "\"title\": \"Villa with sea view\"",
    ];
    let mut rest: &str = &stdout;
    for needle in expected_in_order {
        let at = rest
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in order in:\n{stdout}"));
        rest = &rest[at + needle.len()..];
    }
}
