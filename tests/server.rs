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
    for (request, status) in [(big, 431), (not_http, 400)] {
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
