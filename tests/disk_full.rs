//! The disk filling up during an import (the SQLite database on a 6 MB tmpfs): a clear error
//! from the CLI and a 507 from the API, nothing of the import written, and the server still
//! serves reads. Mounting the tmpfs needs root: run as another user, the test is reported as
//! ignored.
mod common;

use common::server::Server;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

/// A tmpfs of `size_kb` mounted on a new directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_kb: u32) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_kb}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "could not mount a tmpfs (needs root)");
        Tmpfs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Runs the CLI on `url`: (exit code, stdout, stderr).
fn sm(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("sync-manager"))
        .env("DATABASE_URL", url)
        .env_remove("SYNC_MANAGER_LOG")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn listings(n: u32) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "id": format!("PROP{i:06}"),
                    "title": format!("Villa {i} with a long description of its garden"),
                    "price": 100_000 + i,
                    "features": ["pool", "garden", "sea view"],
                })
            })
            .collect(),
    )
}

#[test]
#[cfg_attr(not(as_root), ignore = "mounting a small tmpfs needs root")]
fn a_full_disk_during_an_import_is_a_clear_error_and_writes_nothing() {
    let fs = Tmpfs::mount(6 * 1024);
    let url = format!("sqlite://{}?mode=rwc", fs.path("full.db").display());
    assert_eq!(sm(&url, &["init"]).0, 0);
    let (code, tenant, err) = sm(&url, &["create-tenant", "Agency", "--json"]);
    assert_eq!(code, 0, "{err}");
    let tenant: Value = serde_json::from_str(&tenant).unwrap();
    let (t, key) = (
        tenant["tenant"]["id"].to_string(),
        tenant["api_key"].as_str().unwrap().to_string(),
    );
    let (code, source, err) = sm(&url, &["source", "create", &t, "portal", "--json"]);
    assert_eq!(code, 0, "{err}");
    let s = serde_json::from_str::<Value>(&source).unwrap()["id"].to_string();
    // 100,000 records need far more than the 6 MB there are.
    let input = tempfile::tempdir().unwrap();
    let file = input.path().join("listings.json");
    std::fs::write(&file, listings(100_000).to_string()).unwrap();

    // The CLI: a clear error, exit status 1, nothing written.
    let (code, out, err) = sm(&url, &["import", &t, &s, file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("disk is full")
            && err.contains("nothing was written"),
        "{err}"
    );
    let (code, listed, err) = sm(&url, &["property", "list", &t, "--source", &s, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap(), json!([]));

    // The API: 507 with a problem, nothing written, reads still served.
    let server = Server::start(&url, &[]);
    let body = std::fs::read(&file).unwrap();
    let request = [
        format!(
            "POST /sources/{s}/import HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        body,
    ]
    .concat();
    let response = server.raw(&request);
    assert!(
        response.starts_with("HTTP/1.1 507"),
        "{}",
        &response[..response.len().min(400)]
    );
    assert!(response.contains("application/problem+json"), "{response}");
    assert!(response.contains("disk is full"), "{response}");
    let (status, list) = server.api("GET", &format!("/sources/{s}/properties"), &key, None);
    assert_eq!((status, list), (200, json!([])));
    assert_eq!(server.api("GET", "/health", &key, None).0, 200);
    let (status, runs) = server.api("GET", "/runs", &key, None);
    assert_eq!(status, 200);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "running"),
        "{runs}"
    );
    drop(server);
    common::report(
        "crash",
        "disk full (6 MB tmpfs) during an import: CLI exit 1, API 507, nothing written, reads served",
    );
}
