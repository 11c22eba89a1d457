//! The real server process: what hyper answers before the application sees a request.
mod common;

use common::server::Server;

#[test]
fn requests_refused_before_the_app_are_problems_too() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let server = Server::start(&url, &[]);
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let not_http = "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_string();
    let many = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for (request, status) in [(big, 431), (many, 431), (not_http, 400)] {
        let response = server.raw(request.as_bytes());
        let (head, body) = response.split_once("\r\n\r\n").expect(&response);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).expect(body);
        assert_eq!(problem["status"], status);
        assert!(problem["detail"].as_str().unwrap().len() > 10);
    }
    // The server still answers.
    let ok = server.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
}

#[test]
fn wrong_keys_from_one_address_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let server = Server::start(&url, &[("SYNC_MANAGER_AUTH_FAILURES", "5")]);
    let admin = server.admin_key.clone().unwrap();
    let (status, tenant) = server.api(
        "POST",
        "/admin/tenants",
        &admin,
        Some(&serde_json::json!({"name": "Agency"})),
    );
    assert_eq!(status, 201);
    let key = tenant["api_key"].as_str().unwrap().to_string();
    let wrong = format!("sm_{}", "0".repeat(48));
    for _ in 0..5 {
        assert_eq!(server.api("GET", "/sources", &wrong, None).0, 401);
    }
    // The address guessed too often: 429, with the time to wait, also for the right key.
    let response = server.raw(
        format!(
            "GET /sources HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 429 "), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("retry-after: "), "{response}");
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{response}"
    );
    // The dashboard's login counts the same address.
    let form = format!("key={key}");
    let login = server.raw(
        format!(
            "POST /ui/login HTTP/1.1\r\nHost: x\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: \
             close\r\n\r\n{form}",
            form.len()
        )
        .as_bytes(),
    );
    assert!(login.starts_with("HTTP/1.1 429 "), "{login}");
}

#[test]
fn a_tenant_over_its_rate_waits() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let server = Server::start(&url, &[("SYNC_MANAGER_RATE_LIMIT", "5")]);
    let key = server.tenant_key("Agency");
    for _ in 0..5 {
        assert_eq!(server.api("GET", "/sources", &key, None).0, 200);
    }
    let (status, problem) = server.api("GET", "/sources", &key, None);
    assert_eq!(status, 429, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("rate limit"));
}

/// A body that stops, or dribbles, is refused with 408 (`serve --read-timeout`, here 1 s: a
/// pause of more than 1 s, or not all of it within 10 s), on an ordinary body and on a streamed
/// import; nothing is written and the server still answers.
#[test]
fn slow_bodies_are_timed_out() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let server = Server::start(&url, &[("SYNC_MANAGER_READ_TIMEOUT", "1")]);
    let key = server.tenant_key("Agency");
    let (_, source) = server.api(
        "POST",
        "/sources",
        &key,
        Some(&serde_json::json!({"name": "portal"})),
    );
    let s = source["id"].as_i64().unwrap();
    // Sends the head and then `parts` of the body, `pause` apart; the response.
    let send = |path: &str, length: usize, parts: &[&str], pause: Duration| {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: \
             application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        for part in parts {
            // The server may have answered already.
            if stream.write_all(part.as_bytes()).is_err() {
                break;
            }
            std::thread::sleep(pause);
        }
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).to_string()
    };
    let expect_408 = |response: &str| {
        let (head, body) = response.split_once("\r\n\r\n").expect(response);
        assert!(head.starts_with("HTTP/1.1 408 "), "{head}");
        let problem: serde_json::Value = serde_json::from_str(body).expect(body);
        assert!(
            problem["detail"].as_str().unwrap().contains("too slowly"),
            "{problem}"
        );
    };
    // A body that stops half-way.
    expect_408(&send("/sources", 40, &[r#"{"name": "#], Duration::ZERO));
    let import = format!("/sources/{s}/import");
    expect_408(&send(&import, 60, &[r#"[{"id": "a"}, "#], Duration::ZERO));
    // A body that dribbles: a byte every 0.5 s never pauses 1 s, but takes longer than 10 s.
    let started = Instant::now();
    let dribble: Vec<String> = std::iter::once("[".to_string())
        .chain((0..40).map(|i| format!("{{\"id\": \"d{i}\"}}, ")))
        .collect();
    let parts: Vec<&str> = dribble.iter().map(String::as_str).collect();
    let length = dribble.iter().map(String::len).sum::<usize>() + 1;
    expect_408(&send(&import, length, &parts, Duration::from_millis(500)));
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    // Nothing was written; the server answers.
    let (status, sources) = server.api("GET", "/sources", &key, None);
    assert_eq!(status, 200);
    assert_eq!(sources.as_array().unwrap().len(), 1, "{sources}");
    let (status, records) = server.api("GET", &format!("/sources/{s}/properties"), &key, None);
    assert_eq!(status, 200);
    assert_eq!(records, serde_json::json!([]));
}
