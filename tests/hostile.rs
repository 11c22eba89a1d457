//! Hostile input stays bad input, at every door: truncated JSON, bytes that are not UTF-8,
//! nesting 10,000 deep, a 20 MB string, a million tiny records, numbers out of range, ids of
//! every wrong type. Each is a 4xx or a per-record error with a message, writes nothing when
//! it is refused, keeps the server's memory bounded, and leaves the server healthy.
mod common;

use common::cli::Env;
use common::server::Server;
use serde_json::json;

/// The hostile bodies, and whether the import is refused whole (else: per-record errors).
fn bodies() -> Vec<(&'static str, Vec<u8>, bool)> {
    let deep = format!("[{}{}]", "[".repeat(10_000), "]".repeat(10_000));
    let deep_record = format!(
        "[{{\"id\": \"D\", \"x\": {}{}}}]",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let huge = format!(
        "[{{\"id\": \"H\", \"text\": \"{}\"}}]",
        "x".repeat(20 << 20)
    );
    let mut not_utf8 = b"[{\"id\": \"A\", \"t\": \"".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, 0x80]);
    not_utf8.extend_from_slice(b"\"}]");
    vec![
        (
            "truncated JSON",
            b"[{\"id\": \"A\"}, {\"id\": ".to_vec(),
            true,
        ),
        ("not UTF-8", not_utf8, true),
        ("an array 10,000 deep", deep.into_bytes(), true),
        (
            "a record nested 10,000 deep",
            deep_record.into_bytes(),
            true,
        ),
        ("a 20 MB string", huge.into_bytes(), false),
        (
            "numbers out of range",
            br#"[{"id": "N", "price": 1e400}, {"id": 1e400}, {"id": 18446744073709551616}]"#
                .to_vec(),
            true,
        ),
        (
            "ids of every wrong type",
            br#"[{"id": null}, {"id": true}, {"id": 1.5}, {"id": []}, {"id": {}}, {"id": ""},
                 {"external_id": [1]}, "not an object", 7, null, {"id": "ok"}]"#
                .to_vec(),
            false,
        ),
        ("an empty body", Vec::new(), true),
        ("a bare string", b"\"records\"".to_vec(), true),
    ]
}

fn peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

#[test]
fn hostile_bodies_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("h.db").display());
    let server = Server::start(&url, &[("SYNC_MANAGER_MAX_BODY_MB", "64")]);
    let admin = server.admin_key.clone().unwrap();
    let (_, tenant) = server.api(
        "POST",
        "/admin/tenants",
        &admin,
        Some(&json!({"name": "Agency"})),
    );
    let key = tenant["api_key"].as_str().unwrap().to_string();
    let (_, source) = server.api("POST", "/sources", &key, Some(&json!({"name": "portal"})));
    let s = source["id"].as_i64().unwrap();
    let mut tried = 0;
    for (what, body, refused) in bodies() {
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
        let status: u16 = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let answer = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("");
        if refused {
            assert!((400..500).contains(&status), "{what}: {status} {answer}");
            assert!(answer.contains("\"detail\""), "{what}: {answer}");
        } else {
            assert_eq!(status, 200, "{what}: {answer}");
            assert!(
                answer.contains("\"reason\""),
                "{what}: per-record errors: {answer}"
            );
        }
        tried += 1;
        assert_eq!(
            server.api("GET", "/health", &key, None).0,
            200,
            "healthy after {what}"
        );
    }
    // Only the valid record of the per-record cases was written.
    let (_, records) = server.api("GET", &format!("/sources/{s}/properties"), &key, None);
    let ids: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ok"], "{records}");
    // A million tiny records in one body: imported, in bounded memory.
    let million: String = format!(
        "[{}]",
        (0..1_000_000)
            .map(|i| format!("{{\"id\":{i}}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let body_mb = million.len() as f64 / 1e6;
    let request = [
        format!(
            "POST /sources/{s}/import HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            million.len()
        )
        .into_bytes(),
        million.into_bytes(),
    ]
    .concat();
    let response = server.raw(&request);
    assert!(
        response.contains("\"created\":1000000"),
        "{}",
        &response[..response.len().min(300)]
    );
    let peak = peak_mb(server.child.id());
    // The 20 MB string, 10,000-deep arrays and a million records: all under this.
    assert!(
        peak < 400.0,
        "server peak RSS {peak:.0} MB for a {body_mb:.0} MB body"
    );
    common::report(
        "hostile",
        &format!(
            "{} hostile inputs through the API, server peak RSS {peak:.0} MB",
            tried + 1
        ),
    );
}

async fn hostile_files_through_the_cli(env: Env) {
    let (t, s, _) = env.setup("{}");
    let mut tried = 0;
    for (what, body, refused) in bodies() {
        let file = env.dir.path().join("hostile.json");
        std::fs::write(&file, &body).unwrap();
        let out = env
            .std_cmd(&["import", &t, &s, file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        if refused {
            assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
            assert!(stderr.starts_with("error: "), "{what}: {stderr}");
        } else {
            // Imported the valid records, rejected the others: exit 3, reasons printed.
            assert!(matches!(out.status.code(), Some(0 | 3)), "{what}: {stderr}");
        }
        tried += 1;
    }
    let records = env.json(&["property", "list", &t, "--source", &s]);
    let ids: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ok"], "{records}");
    let backend = env.url.split(':').next().unwrap_or("?");
    common::report(
        "hostile",
        &format!("{backend}: {tried} hostile files through the CLI"),
    );
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

cli_tests!(hostile_files_through_the_cli);
