//! No secret is kept where a copy of the database or the logs would give it away: API keys
//! (tenant and admin), dashboard session tokens and CSRF tokens appear in no table (SQLite
//! file and write-ahead log, every row of every PostgreSQL table), and in no log line at any
//! level.
mod common;

use common::api::setup;
use poem::test::TestClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sync_manager::http::{AppState, build_app};
use sync_manager::service::keys;

backend_tests!(a_copy_of_the_database_holds_no_secret);

/// Everything the database holds, as text.
async fn dump(db: &DatabaseConnection, url: &str) -> String {
    if db.get_database_backend() == DbBackend::Sqlite {
        let path = url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let mut all = Vec::new();
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                all.extend(bytes);
            }
        }
        return String::from_utf8_lossy(&all).to_string();
    }
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        ))
        .await
        .unwrap();
    let mut out = String::new();
    for row in tables {
        let table: String = row.try_get_by_index(0).unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t"),
            ))
            .await
            .unwrap();
        for r in rows {
            let text: String = r.try_get_by_index(0).unwrap();
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

async fn a_copy_of_the_database_holds_no_secret(db: &DatabaseConnection) {
    let api = setup(db).await;
    let admin = keys::ensure_admin_key(db).await.unwrap().unwrap().key;
    let cli = TestClient::new(build_app(AppState::new(db.clone())));
    // A dashboard session (and its CSRF token), a key created with an idempotency key (whose
    // response is kept for replays).
    let login = cli
        .post("/ui/login")
        .content_type("application/x-www-form-urlencoded")
        .body(format!("key={}", api.key))
        .send()
        .await;
    let cookie = login
        .0
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("sm_session=")
        .to_string();
    let page = cli
        .get("/ui")
        .header("cookie", format!("sm_session={token}"))
        .send()
        .await;
    let html = page.0.into_body().into_string().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..at + 64].to_string();
    let created = cli
        .post("/keys")
        .header("X-API-Key", &api.key)
        .header("Idempotency-Key", "k1")
        .content_type("application/json")
        .body(r#"{"name": "cron"}"#)
        .send()
        .await;
    let created: serde_json::Value = created.json().await.value().deserialize();
    let new_key = created["api_key"].as_str().unwrap().to_string();
    let url = match db.get_database_backend() {
        DbBackend::Sqlite => sqlite_url(db).await,
        _ => String::new(),
    };
    let text = dump(db, &url).await;
    assert!(text.len() > 1000, "the dump holds the data");
    for (what, secret) in [
        ("the tenant's key", api.key.as_str()),
        ("the admin key", admin.as_str()),
        ("a created key", new_key.as_str()),
        ("a session token", token.as_str()),
        ("a CSRF token", csrf.as_str()),
    ] {
        assert!(secret.len() >= 32, "{what}: {secret}");
        assert!(!text.contains(secret), "{what} is in the database");
    }
}

/// The file behind an SQLite connection (`PRAGMA database_list`).
async fn sqlite_url(db: &DatabaseConnection) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await
        .unwrap()
        .unwrap();
    let file: String = row.try_get_by_index(0).unwrap();
    format!("sqlite://{file}")
}

#[test]
fn logs_at_every_level_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let log = dir.path().join("serve.log");
    let server =
        common::server::Server::start_logging(&url, &[("SYNC_MANAGER_LOG", "trace")], &log);
    let admin = server.admin_key.clone().unwrap();
    let key = server.tenant_key("Agency");
    server.api("GET", "/sources", &key, None);
    server.api("GET", "/sources", &format!("sm_{}", "1".repeat(48)), None);
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
    let token = login
        .split("sm_session=")
        .nth(1)
        .and_then(|t| t.split(';').next())
        .unwrap()
        .to_string();
    server.raw(
        format!(
            "GET /ui HTTP/1.1\r\nHost: x\r\nCookie: sm_session={token}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    // At the most verbose level every request is logged (method, path, status).
    assert!(
        text.contains("uri=/ui/login") && text.contains("uri=/sources"),
        "the requests are not in the log"
    );
    for (what, secret) in [
        ("a key", key.as_str()),
        ("the admin key", &admin),
        ("a session", &token),
    ] {
        assert!(!text.contains(secret), "{what} is in the log");
    }
}
