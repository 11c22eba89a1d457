//! `Idempotency-Key` on every mutating POST, in-process on SQLite and (when enabled)
//! PostgreSQL: a retry replays the first response and has no second effect, another request
//! under the same key is a 422, a key still in use a 409, and the keys live in the database
//! (a new server process replays them too).
mod common;

use common::api::{Api, Reply, setup};
use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use sync_manager::entity::{idempotency_keys, runs, sources};
use sync_manager::http::{AppState, build_app};
use sync_manager::ids::TenantId;
use sync_manager::service::idempotency::{self, Found, Scope};
use sync_manager::service::tenants;

backend_tests!(
    every_mutating_post_is_replayed_without_a_second_effect,
    another_request_under_a_key_and_keys_in_use,
    failed_requests_and_dry_runs_are_not_kept,
);

/// Sends `body` to `path` with an `Idempotency-Key`.
async fn post<E: Endpoint>(
    api: &Api<E>,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (Reply, bool) {
    let mut req = api
        .cli
        .post(path)
        .header("X-API-Key", &api.key)
        .header("Idempotency-Key", key);
    if let Some(body) = body {
        req = req.content_type("application/json").body(body.to_string());
    }
    let resp = req.send().await;
    let replayed = resp.0.headers().get("idempotent-replayed").is_some();
    let status = resp.0.status();
    let content_type = resp
        .0
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.0.into_body().into_string().await.unwrap();
    let reply = Reply {
        status,
        content_type,
        link: None,
        total: None,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    };
    (reply, replayed)
}

/// The same request twice: the same status and body, the second one replayed.
async fn twice<E: Endpoint>(api: &Api<E>, path: &str, key: &str, body: Option<Value>) -> Value {
    let (first, replayed) = post(api, path, key, body.clone()).await;
    assert!(!replayed, "{path}: the first request is not a replay");
    assert!(
        first.status.is_success(),
        "{path}: {} {}",
        first.status,
        first.body
    );
    let (second, replayed) = post(api, path, key, body).await;
    assert!(replayed, "{path}: the retry is a replay");
    assert_eq!(second.status, first.status, "{path}");
    if path != "/keys" && path != "/admin/tenants" {
        assert_eq!(second.body, first.body, "{path}");
    }
    first.body
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn every_mutating_post_is_replayed_without_a_second_effect(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = twice(
        &api,
        "/sources",
        "k-source",
        Some(json!({"name": "portal"})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(sources::Entity::find().count(db).await.unwrap(), 1);
    let t = twice(
        &api,
        "/targets",
        "k-target",
        Some(json!({"name": "website", "config": {"conflict_policy": "merge"}})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let records = json!({"data": [{"id": "P1", "title": "Villa", "price": 1}, {"id": "P2", "title": "Flat", "price": 2}]});
    let import = twice(
        &api,
        &format!("/sources/{s}/import"),
        "k-import",
        Some(records),
    )
    .await;
    assert_eq!(import["stats"]["created"], 2);
    let sync = twice(&api, &format!("/sync/{s}/{t}"), "k-sync", None).await;
    assert_eq!(sync["stats"]["created"], 2);
    assert_eq!(
        runs::Entity::find().count(db).await.unwrap(),
        2,
        "one import, one sync"
    );
    // A conflict to resolve, a snapshot to restore, a run to roll back.
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P1"),
        Some(json!({"data": {"title": "Villa with sea view"}})),
    )
    .await
    .expect(200);
    api.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": [{"id": "P1", "title": "Big villa", "price": 1}]})),
    )
    .await
    .expect(200);
    let sync = api
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let warning = sync["warnings"][0]["id"].as_i64().unwrap();
    let resolved = twice(
        &api,
        &format!("/warnings/{warning}/resolve"),
        "k-resolve",
        Some(json!({"resolution": "take_source"})),
    )
    .await;
    assert_eq!(resolved["warning"]["status"], "resolved");
    let history = api
        .call(
            "GET",
            &format!("/targets/{t}/properties/P1/snapshots"),
            None,
        )
        .await
        .expect(200);
    let snapshot = history[0]["id"].as_i64().unwrap();
    let before = count(db, "SELECT count(*) FROM snapshots").await;
    twice(
        &api,
        &format!("/snapshots/{snapshot}/restore"),
        "k-restore",
        None,
    )
    .await;
    assert_eq!(
        count(db, "SELECT count(*) FROM snapshots").await,
        before + 1,
        "one restore (one snapshot of the version it replaced)"
    );
    let sync_run = sync["run_id"].as_i64().unwrap();
    let rollback = twice(
        &api,
        &format!("/runs/{sync_run}/rollback"),
        "k-rollback",
        None,
    )
    .await;
    assert!(rollback["run_id"].as_i64().is_some());
    twice(&api, "/cleanup", "k-cleanup", Some(json!({"days": 30}))).await;
    let manual = twice(
        &api,
        "/sources",
        "k-manual",
        Some(json!({"name": "desk", "type": "manual"})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    twice(
        &api,
        &format!("/sources/{manual}/properties"),
        "k-entry",
        Some(json!({"id": "M1", "title": "typed in"})),
    )
    .await;
    let kinds = count(
        db,
        "SELECT count(*) FROM runs WHERE kind IN ('resolve', 'restore', 'rollback', 'cleanup')",
    )
    .await;
    assert_eq!(kinds, 4, "each of them ran once");
    // Keys: the retry gets the same status, without the secret (it is shown once).
    let before = count(db, "SELECT count(*) FROM api_keys").await;
    let (first, _) = post(&api, "/keys", "k-key", Some(json!({"name": "cron"}))).await;
    let (second, replayed) = post(&api, "/keys", "k-key", Some(json!({"name": "cron"}))).await;
    assert!(replayed);
    assert_eq!(
        (first.status, second.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert!(first.body["api_key"].as_str().unwrap().starts_with("sm_"));
    assert_eq!(second.body["id"], first.body["id"]);
    assert!(
        second.body["api_key"]
            .as_str()
            .unwrap()
            .contains("shown only once")
    );
    assert_eq!(count(db, "SELECT count(*) FROM api_keys").await, before + 1);
    let stored: Vec<idempotency_keys::Model> =
        idempotency_keys::Entity::find().all(db).await.unwrap();
    assert!(
        stored.iter().all(|k| !k
            .response
            .as_deref()
            .unwrap_or("")
            .contains(first.body["api_key"].as_str().unwrap())),
        "no stored response holds a secret"
    );
    // The keys are in the database: a new server (process) on it replays them too.
    let other = Api {
        cli: TestClient::new(build_app(AppState::new(db.clone()))),
        key: api.key.clone(),
    };
    let (again, replayed) = post(&other, &format!("/sync/{s}/{t}"), "k-sync", None).await;
    assert!(replayed);
    assert_eq!(again.body["stats"]["created"], 2);
}

async fn another_request_under_a_key_and_keys_in_use(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let path = format!("/sources/{s}/import");
    twice(&api, &path, "day-1", Some(json!({"data": [{"id": "P1"}]}))).await;
    let (other, _) = post(&api, &path, "day-1", Some(json!({"data": [{"id": "P2"}]}))).await;
    other.problem(422, "another request");
    let (other, _) = post(&api, "/sources", "day-1", Some(json!({"name": "x"}))).await;
    other.problem(422, "another request");
    post(&api, &path, "", Some(json!({"data": []})))
        .await
        .0
        .problem(400, "Idempotency-Key");
    // Keys belong to their tenant: another tenant's "day-1" is its own.
    let (_, key) = tenants::create(db, "Other agency", None).await.unwrap();
    let other_api = Api {
        cli: TestClient::new(build_app(AppState::new(db.clone()))),
        key: key.key,
    };
    let s2 = other_api.create("/sources", "portal").await;
    let (mine, replayed) = post(
        &other_api,
        &format!("/sources/{s2}/import"),
        "day-1",
        Some(json!({"data": [{"id": "P1"}]})),
    )
    .await;
    assert!(!replayed);
    assert_eq!(mine.status, StatusCode::OK);
    // A key claimed by a request still running here: 409 with Retry-After.
    let tenant = TenantId(1);
    let req = idempotency::Request {
        scope: Scope::Tenant(tenant),
        key: "busy".into(),
        request: format!("POST {path}"),
    };
    let Found::Claimed(claim) = idempotency::begin(db, &req).await.unwrap() else {
        panic!("a new key is claimed");
    };
    assert!(matches!(
        idempotency::begin(db, &req).await.unwrap(),
        Found::Running
    ));
    let resp = api
        .cli
        .post(&path)
        .header("X-API-Key", &api.key)
        .header("Idempotency-Key", "busy")
        .content_type("application/json")
        .body(r#"{"data": []}"#)
        .send()
        .await;
    resp.assert_status(StatusCode::CONFLICT);
    resp.assert_header("retry-after", "5");
    // Left behind by a process that died before its effect committed: claimed anew.
    db.execute_unprepared(&format!(
        "UPDATE idempotency_keys SET owner = '4194999:1@{}' WHERE id = {}",
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim(),
        claim.id
    ))
    .await
    .unwrap();
    let (fresh, replayed) = post(&api, &path, "busy", Some(json!({"data": [{"id": "B1"}]}))).await;
    assert!(!replayed);
    assert_eq!(fresh.body["stats"]["created"], 1);
}

async fn failed_requests_and_dry_runs_are_not_kept(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let path = format!("/sources/{s}/import");
    let strict = json!({"data": [{"title": "no id"}], "strict": true});
    let (failed, _) = post(&api, &path, "k1", Some(strict)).await;
    failed.problem(422, "strict import rejected");
    // Nothing was done, so nothing is kept: the corrected request under the same key runs.
    let (ok, replayed) = post(&api, &path, "k1", Some(json!({"data": [{"id": "P1"}]}))).await;
    assert!(!replayed);
    assert_eq!(ok.body["stats"]["created"], 1);
    let dry = format!("{path}?dry_run=true");
    let body = Some(json!({"data": [{"id": "P2"}]}));
    for _ in 0..2 {
        let (out, replayed) = post(&api, &dry, "k-dry", body.clone()).await;
        assert!(!replayed, "a dry run changes nothing and is not kept");
        assert_eq!(out.body["stats"]["created"], 1);
    }
    assert_eq!(
        idempotency_keys::Entity::find().count(db).await.unwrap(),
        1,
        "only the import that ran is kept"
    );
}
