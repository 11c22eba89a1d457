//! Runs the README's curl quickstart verbatim against the real binary serving on a free port.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn quickstart_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- quickstart -->")
        .expect("README has the quickstart marker");
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
    let bin = env!("CARGO_BIN_EXE_sync-manager");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("qs.db").display());
    let tenant = Command::new(bin)
        .args(["create-tenant", "My Agency", "--json"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(tenant.status.success());
    let tenant: serde_json::Value = serde_json::from_slice(&tenant.stdout).unwrap();
    let key = tenant["api_key"].as_str().unwrap().to_string();

    let mut child = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut base = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Serving on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
    }
    let base = base.expect("serve prints its URL");

    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &quickstart_block()])
        .env("SM", &base)
        .env("KEY", &key)
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
