//! The REST API driven in-process (poem's TestClient), on SQLite and (when enabled)
//! PostgreSQL: the documented paths, problem+json errors, pagination, tenant isolation, and
//! the OpenAPI document.
mod common;

use poem::http::StatusCode;
use poem::test::TestClient;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use sync_manager::http::{AppState, build_app};
use sync_manager::service::{keys, tenants};

backend_tests!(
    health_docs_and_openapi_document,
    missing_wrong_and_admin_keys_are_401,
    import_sync_edit_resolve_rollback_over_http,
    bad_requests_are_4xx_problems_and_write_nothing,
    lists_are_arrays_with_link_and_total_headers,
    another_tenant_sees_404_everywhere,
    history_manual_entry_keys_admin_and_cleanup,
    oversize_bodies_are_413_with_or_without_length,
    list_pages_follow_every_write,
    unknown_settings_are_refused_with_the_known_ones,
    changed_since_lists_deletions_too,
    one_rule_for_input,
);

use common::api::{Api, setup};

fn listing(i: u32, price: u32) -> Value {
    json!({"id": format!("P{i:03}"), "title": format!("Villa {i}"), "price": price, "features": ["pool"]})
}

async fn health_docs_and_openapi_document(db: &DatabaseConnection) {
    let api = setup(db).await;
    let health = api.raw("GET", "/health", None, None).await.expect(200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], true);
    let docs = api.raw("GET", "/docs", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.content_type.starts_with("text/html"));
    let root = api.raw("GET", "/", None, None).await;
    assert!(root.status.is_redirection());
    let spec = api
        .raw("GET", "/openapi.json", None, None)
        .await
        .expect(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["TenantKey"]["in"], "header");
    assert_eq!(schemes["TenantKey"]["name"], "X-API-Key");
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary"
            );
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            assert_eq!(secured, path != "/health", "{method} {path} security");
            if path != "/health" {
                for status in ["401", "404"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
    for path in [
        "/sources",
        "/sources/{id}",
        "/sources/{id}/import",
        "/sources/{id}/properties",
        "/sources/{id}/properties/{external_id}",
        "/targets",
        "/targets/{id}",
        "/targets/{id}/properties",
        "/targets/{id}/properties/{external_id}",
        "/sync/{source_id}/{target_id}",
        "/runs",
        "/runs/{id}",
        "/runs/{id}/rollback",
        "/warnings",
        "/warnings/{id}",
        "/warnings/{id}/resolve",
        "/health",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(operations >= 24, "{operations}");
}

async fn missing_wrong_and_admin_keys_are_401(db: &DatabaseConnection) {
    let api = setup(db).await;
    api.raw("GET", "/sources", None, None)
        .await
        .problem(401, "X-API-Key");
    api.raw("GET", "/sources", None, Some("sm_not_a_real_key_at_all"))
        .await
        .problem(401, "X-API-Key");
    let admin = keys::ensure_admin_key(db).await.unwrap().unwrap();
    api.raw("GET", "/sources", None, Some(&admin.key))
        .await
        .problem(401, "admin key");
    let (tenant, second) = (
        sync_manager::ids::TenantId(1),
        keys::create(db, sync_manager::ids::TenantId(1), "x")
            .await
            .unwrap(),
    );
    keys::revoke(db, tenant, sync_manager::ids::KeyId(second.model.id))
        .await
        .unwrap();
    api.raw("GET", "/sources", None, Some(&second.key))
        .await
        .problem(401, "unrevoked");
}

async fn import_sync_edit_resolve_rollback_over_http(db: &DatabaseConnection) {
    let api = setup(db).await;
    let source = api
        .call(
            "POST",
            "/sources",
            Some(json!({"name": "portal", "type": "scraped"})),
        )
        .await
        .expect(201);
    assert_eq!(source["type"], "scraped");
    let target = api
        .call(
            "POST",
            "/targets",
            Some(json!({"name": "web", "config": {"conflict_policy": "merge"}})),
        )
        .await
        .expect(201);
    assert_eq!(target["type"], "website");
    let (s, t) = (
        source["id"].as_i64().unwrap(),
        target["id"].as_i64().unwrap(),
    );
    let day1: Vec<Value> = (1..=3).map(|i| listing(i, 100 * i)).collect();

    let dry = api
        .call(
            "POST",
            &format!("/sources/{s}/import?dry_run=true"),
            Some(json!({"data": day1})),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            dry["stats"]["created"].clone(),
            dry["run_id"].clone(),
            dry["dry_run"].clone()
        ),
        (json!(3), Value::Null, json!(true))
    );
    assert_eq!(
        api.call("GET", &format!("/sources/{s}/properties"), None)
            .await
            .expect(200),
        json!([])
    );

    let imported = api
        .call(
            "POST",
            &format!("/sources/{s}/import"),
            Some(json!({"data": day1})),
        )
        .await
        .expect(200);
    assert_eq!(imported["stats"]["created"], 3);
    assert!(imported["run_id"].is_i64());
    let synced = api
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    assert_eq!(
        synced["stats"],
        json!({"created": 3, "updated": 0, "unchanged": 0, "deleted": 0, "warnings": 0})
    );

    // A manual edit on the target, as a merge patch of the resource.
    let edited = api
        .call(
            "PATCH",
            &format!("/targets/{t}/properties/P002"),
            Some(json!({"data": {"price": 150, "features": null}})),
        )
        .await
        .expect(200);
    assert_eq!(edited["has_manual_changes"], true);
    assert_eq!(
        edited["data"],
        json!({"id": "P002", "title": "Villa 2", "price": 150})
    );
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P002"),
        Some(json!({"hash": "x"})),
    )
    .await
    .problem(422, "only \"data\" is writable");
    let manual = api
        .call(
            "GET",
            &format!("/targets/{t}/properties?has_manual_changes=true"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(manual.as_array().unwrap().len(), 1);
    assert_eq!(manual[0]["external_id"], "P002");

    // Day 2 changes P002's price: a conflict, kept and warned.
    let mut day2 = day1.clone();
    day2[1]["price"] = json!(250);
    api.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": day2})),
    )
    .await
    .expect(200);
    let plan = api
        .call("POST", &format!("/sync/{s}/{t}?dry_run=true"), None)
        .await
        .expect(200);
    assert_eq!(
        plan["plan"],
        json!([{"external_id": "P002", "action": "merge", "fields": ["price"]}])
    );
    let synced = api
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    assert_eq!(synced["stats"]["warnings"], 1);
    let warning = &synced["warnings"][0];
    assert_eq!(
        warning["fields"],
        json!([{"field": "price", "base": 200, "source": 250, "target": 150}])
    );
    let open = api
        .call("GET", "/warnings?status=open", None)
        .await
        .expect(200);
    assert_eq!(open.as_array().unwrap().len(), 1);
    let wid = open[0]["id"].as_i64().unwrap();
    let resolved = api
        .call(
            "POST",
            &format!("/warnings/{wid}/resolve"),
            Some(json!({"resolution": "take_source"})),
        )
        .await
        .expect(200);
    assert_eq!(resolved["changed"], true);
    assert_eq!(resolved["warning"]["status"], "resolved");
    let p2 = api
        .call("GET", &format!("/targets/{t}/properties/P002"), None)
        .await
        .expect(200);
    assert_eq!(p2["data"]["price"], 250);
    api.call(
        "POST",
        &format!("/warnings/{wid}/resolve"),
        Some(json!({"resolution": "keep_target"})),
    )
    .await
    .problem(409, "already resolved");

    // The first sync is rolled back; P002 changed since and is skipped.
    let runs = api.call("GET", "/runs", None).await.expect(200);
    let first_sync = runs
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["kind"] == "sync")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let run = api
        .call("GET", &format!("/runs/{first_sync}"), None)
        .await
        .expect(200);
    assert_eq!(run["stats"]["created"], 3);
    let rb = api
        .call("POST", &format!("/runs/{first_sync}/rollback"), None)
        .await
        .expect(200);
    assert_eq!(
        (
            rb["removed"].clone(),
            rb["skipped"][0]["external_id"].clone()
        ),
        (json!(2), json!("P002"))
    );
    api.call("POST", &format!("/runs/{first_sync}/rollback"), None)
        .await
        .problem(409, "already rolled back");

    // Sources and targets can be changed and deleted.
    let patched = api
        .call(
            "PATCH",
            &format!("/targets/{t}"),
            Some(json!({"config": {"conflict_policy": "overwrite"}})),
        )
        .await
        .expect(200);
    assert_eq!(patched["config"]["conflict_policy"], "overwrite");
    assert_eq!(patched["name"], "web");
    api.call("DELETE", &format!("/sources/{s}"), None)
        .await
        .expect(204);
    api.call("GET", &format!("/sources/{s}"), None)
        .await
        .problem(404, "not found");
}

async fn bad_requests_are_4xx_problems_and_write_nothing(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let import = format!("/sources/{s}/import");
    let key = api.key.clone();
    let send = |body: &'static str, ct: &'static str| {
        let (import, key) = (import.clone(), key.clone());
        let api = &api;
        async move {
            api.raw("POST", &import, Some((body.to_string(), ct)), Some(&key))
                .await
        }
    };
    send("{\"data\": [\n{\"id\": 1},", "application/json")
        .await
        .problem(400, "line 2");
    send("{\"records\": [{\"id\": 1}]}", "application/json")
        .await
        .problem(400, "no \"data\" field");
    // A field given twice: which one counts would depend on the reader.
    send(
        "{\"mode\": \"upsert\", \"data\": [{\"id\": \"Z\"}], \"mode\": \"full\"}",
        "application/json",
    )
    .await
    .problem(400, "the field \"mode\" is given twice at line 1 column 43");
    send("{\"data\": [], \"extra\": 1}", "application/json")
        .await
        .problem(422, "extra");
    send("{\"data\": [], \"mode\": \"replace\"}", "application/json")
        .await
        .problem(422, "replace");
    send("{\"data\": [], \"strict\": \"yes\"}", "application/json")
        .await
        .problem(422, "true or false");
    send("{\"data\": [{\"id\": 1}]}", "text/plain")
        .await
        .problem(415, "text/plain");
    // What curl sends without -H is taken as JSON.
    let ok = send(
        "{\"data\": [{\"id\": \"A\"}]}",
        "application/x-www-form-urlencoded",
    )
    .await
    .expect(200);
    assert_eq!(ok["stats"]["created"], 1);
    let strict = api
        .call(
            "POST",
            &import,
            Some(json!({"data": [{"id": "B"}, {"title": "no id"}], "strict": true})),
        )
        .await;
    assert_eq!(strict.body["errors"][0]["index"], 1);
    strict.problem(422, "strict import rejected the whole batch");
    api.call(
        "POST",
        &import,
        Some(json!({"data": [{"id": "C"}], "mode": "full"})),
    )
    .await
    .problem(409, "refusing a full import");
    api.call(
        "POST",
        "/sources",
        Some(json!({"name": "x", "type": "ftp"})),
    )
    .await
    .problem(422, "json, scraped, manual, api");
    api.call(
        "POST",
        "/targets",
        Some(json!({"name": "x", "config": [1]})),
    )
    .await
    .problem(422, "JSON object");
    api.call(
        "POST",
        "/targets",
        Some(json!({"name": "x", "config": {"conflict_policy": "newest"}})),
    )
    .await
    .problem(422, "merge, keep_target, overwrite");
    api.call("GET", "/sources?limit=0", None)
        .await
        .problem(400, "limit");
    api.call("GET", "/sources?limit=5000", None)
        .await
        .problem(400, "at most 1000");
    api.call("GET", "/sources?limit=abc", None)
        .await
        .problem(400, "limit");
    api.call("GET", "/runs?cursor=zzz", None)
        .await
        .problem(400, "cursor");
    api.call("GET", "/warnings?status=closed", None)
        .await
        .problem(422, "open or resolved");
    api.call(
        "GET",
        &format!("/sources/{s}/properties?changed_since=yesterday"),
        None,
    )
    .await
    .problem(400, "RFC 3339");
    api.call("GET", "/sources/abc", None)
        .await
        .problem(400, "id");
    api.call("GET", "/nowhere", None)
        .await
        .problem(404, "/docs");
    api.call("PUT", "/sources", None)
        .await
        .problem(405, "not allowed");
    api.call("POST", "/sync/999/998", None)
        .await
        .problem(404, "source 999 not found");
    // Only the one valid import above was written.
    let props = api
        .call("GET", &format!("/sources/{s}/properties"), None)
        .await
        .expect(200);
    assert_eq!(props.as_array().unwrap().len(), 1);
}

async fn lists_are_arrays_with_link_and_total_headers(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "web").await;
    let records: Vec<Value> = (1..=7).map(|i| listing(i, i)).collect();
    api.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": records})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let mut url = format!("/targets/{t}/properties?limit=3");
    let mut seen = Vec::new();
    loop {
        let page = api.call("GET", &url, None).await;
        assert_eq!(page.total, Some(7));
        let link = page.link.clone();
        let items = page.expect(200);
        seen.extend(
            items
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["external_id"].as_str().unwrap().to_string()),
        );
        match link {
            Some(link) => {
                assert!(link.ends_with("rel=\"next\""), "{link}");
                url = link[1..link.find('>').unwrap()].to_string();
            }
            None => break,
        }
    }
    assert_eq!(
        seen,
        (1..=7).map(|i| format!("P{i:03}")).collect::<Vec<_>>()
    );
    let runs = api.call("GET", "/runs?limit=1", None).await;
    assert_eq!(runs.total, Some(2));
    assert!(runs.link.is_some());
    assert_eq!(runs.expect(200).as_array().unwrap().len(), 1);
}

async fn another_tenant_sees_404_everywhere(db: &DatabaseConnection) {
    let a = setup(db).await;
    let s = a.create("/sources", "portal").await;
    let t = a.create("/targets", "web").await;
    a.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": [listing(1, 1)]})),
    )
    .await
    .expect(200);
    a.call(
        "PATCH",
        &format!("/targets/{t}"),
        Some(json!({"name": "web"})),
    )
    .await
    .expect(200);
    a.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    a.call(
        "PATCH",
        &format!("/targets/{t}/properties/P001"),
        Some(json!({"data": {"price": 9}})),
    )
    .await
    .expect(200);
    a.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": [listing(1, 2)]})),
    )
    .await
    .expect(200);
    let synced = a
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let w = synced["warnings"][0]["id"].as_i64().unwrap();
    let r = synced["run_id"].as_i64().unwrap();
    let history = a
        .call(
            "GET",
            &format!("/targets/{t}/properties/P001/snapshots"),
            None,
        )
        .await
        .expect(200);
    let snap = history[0]["id"].as_i64().unwrap();
    let key_a = a.call("GET", "/keys", None).await.expect(200)[0]["id"]
        .as_i64()
        .unwrap();
    let before_source = a
        .call("GET", &format!("/sources/{s}/properties"), None)
        .await
        .expect(200);
    let before_target = a
        .call("GET", &format!("/targets/{t}/properties"), None)
        .await
        .expect(200);

    let (_, key_b) = tenants::create(db, "Other", None).await.unwrap();
    let b = Api {
        cli: TestClient::new(build_app(AppState::new(db.clone()))),
        key: key_b.key,
    };
    let b_source = b.create("/sources", "mine").await;
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/sources/{s}"), None),
        (
            "PATCH",
            format!("/sources/{s}"),
            Some(json!({"name": "stolen"})),
        ),
        ("DELETE", format!("/sources/{s}"), None),
        (
            "POST",
            format!("/sources/{s}/import"),
            Some(json!({"data": [listing(5, 5)]})),
        ),
        ("GET", format!("/sources/{s}/properties"), None),
        ("GET", format!("/sources/{s}/properties/P001"), None),
        ("GET", format!("/targets/{t}"), None),
        (
            "PATCH",
            format!("/targets/{t}"),
            Some(json!({"name": "stolen"})),
        ),
        ("DELETE", format!("/targets/{t}"), None),
        ("GET", format!("/targets/{t}/properties"), None),
        ("GET", format!("/targets/{t}/properties/P001"), None),
        (
            "PATCH",
            format!("/targets/{t}/properties/P001"),
            Some(json!({"data": {"price": 1}})),
        ),
        ("POST", format!("/sync/{s}/{t}"), None),
        ("POST", format!("/sync/{b_source}/{t}"), None),
        ("GET", format!("/runs/{r}"), None),
        ("POST", format!("/runs/{r}/rollback"), None),
        ("GET", format!("/warnings/{w}"), None),
        (
            "GET",
            format!("/targets/{t}/properties/P001/snapshots"),
            None,
        ),
        (
            "GET",
            format!("/sources/{s}/properties/P001/snapshots"),
            None,
        ),
        ("POST", format!("/snapshots/{snap}/restore"), None),
        (
            "POST",
            format!("/sources/{s}/properties"),
            Some(json!({"id": "X"})),
        ),
        (
            "PATCH",
            format!("/sources/{s}/properties/P001"),
            Some(json!({"data": {"price": 1}})),
        ),
        ("DELETE", format!("/sources/{s}/properties/P001"), None),
        ("DELETE", format!("/keys/{key_a}"), None),
        (
            "POST",
            format!("/warnings/{w}/resolve"),
            Some(json!({"resolution": "take_source"})),
        ),
    ];
    for (method, path, body) in routes {
        let reply = b.call(method, &path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            reply.body
        );
    }
    assert_eq!(
        b.call("GET", "/runs", None)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        b.call("GET", "/warnings", None).await.expect(200),
        json!([])
    );
    // A's data is unchanged.
    assert_eq!(
        a.call("GET", &format!("/sources/{s}/properties"), None)
            .await
            .expect(200),
        before_source
    );
    assert_eq!(
        a.call("GET", &format!("/targets/{t}/properties"), None)
            .await
            .expect(200),
        before_target
    );
    assert_eq!(
        a.call("GET", &format!("/warnings/{w}"), None)
            .await
            .expect(200)["status"],
        "open"
    );
    assert_eq!(
        a.call("GET", &format!("/sources/{s}"), None)
            .await
            .expect(200)["name"],
        "portal"
    );
}

async fn history_manual_entry_keys_admin_and_cleanup(db: &DatabaseConnection) {
    let api = setup(db).await;
    let m = api
        .call(
            "POST",
            "/sources",
            Some(json!({"name": "office", "type": "manual"})),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let created = api
        .call(
            "POST",
            &format!("/sources/{m}/properties"),
            Some(json!({"id": "M1", "title": "Flat"})),
        )
        .await
        .expect(201);
    assert_eq!(created["external_id"], "M1");
    api.call(
        "POST",
        &format!("/sources/{m}/properties"),
        Some(json!({"id": "M1"})),
    )
    .await
    .problem(409, "already exists");
    api.call(
        "POST",
        &format!("/sources/{m}/properties"),
        Some(json!({"title": "no id"})),
    )
    .await
    .problem(422, "external_id");
    let patched = api
        .call(
            "PATCH",
            &format!("/sources/{m}/properties/M1"),
            Some(json!({"data": {"price": 5}})),
        )
        .await
        .expect(200);
    assert_eq!(
        patched["data"],
        json!({"id": "M1", "title": "Flat", "price": 5})
    );
    let history = api
        .call(
            "GET",
            &format!("/sources/{m}/properties/M1/snapshots"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["data"], json!({"id": "M1", "title": "Flat"}));
    let restored = api
        .call(
            "POST",
            &format!("/snapshots/{}/restore", history[0]["id"]),
            None,
        )
        .await
        .expect(200);
    assert_eq!(restored["external_id"], "M1");
    let now = api
        .call("GET", &format!("/sources/{m}/properties/M1"), None)
        .await
        .expect(200);
    assert_eq!(now["data"], json!({"id": "M1", "title": "Flat"}));
    api.call("DELETE", &format!("/sources/{m}/properties/M1"), None)
        .await
        .expect(204);
    assert_eq!(
        api.call("GET", &format!("/sources/{m}/properties"), None)
            .await
            .expect(200),
        json!([])
    );
    let other = api.create("/sources", "feed").await;
    api.call(
        "POST",
        &format!("/sources/{other}/properties"),
        Some(json!({"id": "X"})),
    )
    .await
    .problem(409, "only sources of type manual");
    api.call("POST", "/snapshots/999999/restore", None)
        .await
        .problem(404, "snapshot");

    // Tenant self-service.
    let me = api.call("GET", "/tenant", None).await.expect(200);
    assert_eq!(me["retention_days"], 30);
    let me = api
        .call("PATCH", "/tenant", Some(json!({"retention_days": 7})))
        .await
        .expect(200);
    assert_eq!(me["retention_days"], 7);
    api.call("PATCH", "/tenant", Some(json!({"retention_days": 0})))
        .await
        .problem(422, "retention_days");
    let new_key = api
        .call("POST", "/keys", Some(json!({"name": "ci"})))
        .await
        .expect(201);
    let secret = new_key["api_key"].as_str().unwrap().to_string();
    assert!(secret.starts_with(new_key["key"]["prefix"].as_str().unwrap()));
    let keys = api.call("GET", "/keys", None).await.expect(200);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let first_page = api.call("GET", "/keys?limit=1", None).await;
    assert_eq!(first_page.total, Some(2));
    let next = first_page.link.clone().expect("a next page");
    assert!(next.starts_with("</keys?limit=1&cursor="), "{next}");
    assert_eq!(first_page.expect(200).as_array().unwrap().len(), 1);
    assert!(
        keys.to_string().find(&secret).is_none(),
        "secrets are never listed"
    );
    api.raw("GET", "/tenant", None, Some(&secret))
        .await
        .expect(200);
    let revoked = api
        .call("DELETE", &format!("/keys/{}", new_key["key"]["id"]), None)
        .await
        .expect(200);
    assert!(revoked["revoked_at"].is_string());
    api.raw("GET", "/tenant", None, Some(&secret))
        .await
        .problem(401, "X-API-Key");

    // Cleanup.
    let dry = api
        .call("POST", "/cleanup?days=0&dry_run=true", None)
        .await
        .expect(200);
    assert!(dry["snapshots"].as_u64().unwrap() >= 2);
    let done = api.call("POST", "/cleanup?days=0", None).await.expect(200);
    assert_eq!(done["snapshots"], dry["snapshots"]);
    assert_eq!(done["days"], 0);
    api.call("POST", "/cleanup?days=-3", None)
        .await
        .problem(422, "days");

    // Admin endpoints take only the admin key.
    let admin = keys::ensure_admin_key(db).await.unwrap().unwrap();
    api.call("GET", "/admin/tenants", None)
        .await
        .problem(401, "admin key");
    let created = api
        .raw(
            "POST",
            "/admin/tenants",
            Some((
                json!({"name": "New agency"}).to_string(),
                "application/json",
            )),
            Some(&admin.key),
        )
        .await
        .expect(201);
    let new_tenant_key = created["api_key"].as_str().unwrap().to_string();
    let all = api
        .raw("GET", "/admin/tenants", None, Some(&admin.key))
        .await
        .expect(200);
    assert_eq!(all.as_array().unwrap().len(), 2);
    api.raw(
        "GET",
        &format!("/admin/tenants/{}", created["tenant"]["id"]),
        None,
        Some(&admin.key),
    )
    .await
    .expect(200);
    api.raw("GET", "/admin/tenants/999999", None, Some(&admin.key))
        .await
        .problem(404, "tenant");
    let theirs = api
        .raw("GET", "/tenant", None, Some(&new_tenant_key))
        .await
        .expect(200);
    assert_eq!(theirs["name"], "New agency");
}

async fn oversize_bodies_are_413_with_or_without_length(db: &DatabaseConnection) {
    let (_, key) = tenants::create(db, "Agency", None).await.unwrap();
    let state = AppState {
        max_body_bytes: 2048,
        ..AppState::new(db.clone())
    };
    let cli = TestClient::new(build_app(state));
    let s = cli
        .post("/sources")
        .header("X-API-Key", &key.key)
        .body_json(&json!({"name": "p"}))
        .send()
        .await;
    s.assert_status(StatusCode::CREATED);
    let big = json!({"data": (0..200).map(|i| listing(i, i)).collect::<Vec<_>>()}).to_string();
    assert!(big.len() > 2048);
    let with_length = cli
        .post("/sources/1/import")
        .header("X-API-Key", &key.key)
        .content_type("application/json")
        .body(big.clone())
        .send()
        .await;
    with_length.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    with_length.assert_content_type("application/problem+json");
    let stream = poem::Body::from_async_read(std::io::Cursor::new(big.into_bytes()));
    let chunked = cli
        .post("/sources/1/import")
        .header("X-API-Key", &key.key)
        .content_type("application/json")
        .body(stream)
        .send()
        .await;
    chunked.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    let text = chunked.0.into_body().into_string().await.unwrap();
    assert!(text.contains("smaller batches"), "{text}");
    // A small body still goes through.
    let small = cli
        .post("/sources/1/import")
        .header("X-API-Key", &key.key)
        .body_json(&json!({"data": [listing(1, 1)]}))
        .send()
        .await;
    small.assert_status_is_ok();
}

/// List pages are served again while the records stay as they were (debug builds, as here,
/// still read every page and fail if a kept one differs); every write, through the API or
/// straight to the database as another process would, shows on the next request.
async fn list_pages_follow_every_write(db: &DatabaseConnection) {
    use sync_manager::ids::{SourceId, TargetId, TenantId};
    use sync_manager::service::{Actor, imports, sync};
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "web").await;
    let tenant = TenantId(
        api.call("GET", "/tenant", None).await.expect(200)["id"]
            .as_i64()
            .unwrap(),
    );
    let records: Vec<Value> = (1..=5).map(|i| listing(i, i)).collect();
    api.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!({"data": records})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let targets = format!("/targets/{t}/properties?limit=3");
    let sources = format!("/sources/{s}/properties?limit=3");
    let page = |url: String| {
        let api = &api;
        async move {
            let reply = api.call("GET", &url, None).await;
            let total = reply.total;
            let items = reply.expect(200);
            let titles: Vec<String> = items
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["data"]["title"].as_str().unwrap_or("").to_string())
                .collect();
            (total, titles)
        }
    };
    assert_eq!(
        page(targets.clone()).await,
        (
            Some(5),
            vec!["Villa 1".into(), "Villa 2".into(), "Villa 3".into()]
        )
    );
    assert_eq!(page(targets.clone()).await.0, Some(5), "served again");
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P002"),
        Some(json!({"data": {"title": "Hand"}})),
    )
    .await
    .expect(200);
    assert_eq!(
        page(targets.clone()).await.1[1],
        "Hand",
        "an edit over the API"
    );
    // Another process: an import and a sync straight to the database.
    let changed: Vec<Value> = (1..=3)
        .map(|i| json!({"id": format!("P{i:03}"), "title": format!("New {i}")}))
        .collect();
    assert_eq!(page(sources.clone()).await.1[0], "Villa 1");
    imports::import(
        db,
        tenant,
        SourceId(s),
        imports::ImportInput::Records(changed),
        imports::ImportOptions {
            mode: imports::ImportMode::Full,
            force: true,
            ..Default::default()
        },
        &Actor::cli(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        page(sources.clone()).await,
        (
            Some(3),
            vec!["New 1".into(), "New 2".into(), "New 3".into()]
        )
    );
    sync::sync(
        db,
        tenant,
        SourceId(s),
        TargetId(t),
        Default::default(),
        &Actor::cli(),
    )
    .await
    .unwrap();
    let (total, titles) = page(targets.clone()).await;
    assert_eq!(total, Some(3), "the sync soft-deleted two records");
    assert_eq!(titles[0], "New 1");
    assert_eq!(
        page(format!("{targets}&has_manual_changes=true")).await.0,
        Some(1)
    );
}

/// Issue 20 §1: a setting a type does not understand is refused (422 naming the settings it
/// understands), never stored to do nothing; the documentation says what each type does today.
async fn unknown_settings_are_refused_with_the_known_ones(db: &DatabaseConnection) {
    let api = setup(db).await;
    let refused = [
        (
            "/targets",
            json!({"name": "hook", "type": "webhook", "config": {"url": "https://example.com/h"}}),
            "\"url\" is not a setting of a webhook target (records are kept here; nothing is sent yet); the settings it understands are: conflict_policy, delete_policy",
        ),
        (
            "/targets",
            json!({"name": "db", "type": "database", "config": {"database_url": "postgres://x"}}),
            "\"database_url\" is not a setting of a database target",
        ),
        (
            "/sources",
            json!({"name": "portal", "type": "api", "config": {"url": "https://portal"}}),
            "the settings it understands are: max_delete_fraction",
        ),
        (
            "/targets",
            json!({"name": "out", "config": {"schedule": "0 3 * * *", "path": "/srv/out"}}),
            "\"path\", \"schedule\" are not settings of a website target",
        ),
    ];
    for (path, body, needle) in refused {
        api.call("POST", path, Some(body))
            .await
            .problem(422, needle);
    }
    // Nothing was stored.
    assert_eq!(
        api.call("GET", "/targets", None).await.expect(200),
        json!([])
    );
    assert_eq!(
        api.call("GET", "/sources", None).await.expect(200),
        json!([])
    );
    // The settings each type understands are taken, and a change is checked the same way.
    let t = api
        .call(
            "POST",
            "/targets",
            Some(json!({"name": "site", "config": {"conflict_policy": "keep_target"}})),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    api.call(
        "PATCH",
        &format!("/targets/{t}"),
        Some(json!({"config": {"conflict_policy": "merge", "webhook": "x"}})),
    )
    .await
    .problem(422, "\"webhook\" is not a setting of a website target");
    let kept = api
        .call("GET", &format!("/targets/{t}"), None)
        .await
        .expect(200);
    assert_eq!(kept["config"], json!({"conflict_policy": "keep_target"}));
    // The document says what a type does today.
    let doc = api
        .call("GET", "/openapi.json", None)
        .await
        .expect(200)
        .to_string();
    assert!(
        doc.contains("nothing is sent yet"),
        "the types are explained in /docs"
    );
}

/// Issue 20 §2: a website polling `changed_since` hears of the listings the sync deleted;
/// `include_deleted=true` lists deleted records in a whole list (sources and targets).
async fn changed_since_lists_deletions_too(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "website").await;
    let import = format!("/sources/{s}/import");
    api.call(
        "POST",
        &import,
        Some(json!({"data": [listing(1, 100), listing(2, 200), listing(3, 300)]})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // P002 is sold: the next full import leaves it out, the sync deletes it on the website.
    api.call(
        "POST",
        &import,
        Some(json!({"data": [listing(1, 100), listing(3, 333)], "mode": "full"})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let since_q: String = form_urlencoded::byte_serialize(since.as_bytes()).collect();
    for (owner, id) in [("targets", t), ("sources", s)] {
        let changes = api
            .call(
                "GET",
                &format!("/{owner}/{id}/properties?changed_since={since_q}"),
                None,
            )
            .await;
        assert_eq!(changes.total, Some(2), "{owner}: {}", changes.body);
        let items = changes.body.as_array().unwrap().clone();
        let ids: Vec<&str> = items
            .iter()
            .map(|i| i["external_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["P002", "P003"], "{owner}");
        assert!(items[0]["deleted_at"].is_string(), "{owner}: {}", items[0]);
        assert!(items[1]["deleted_at"].is_null());
        // A page of it, the same.
        let page = api
            .call(
                "GET",
                &format!("/{owner}/{id}/properties?changed_since={since_q}&limit=1"),
                None,
            )
            .await;
        assert_eq!(page.body[0]["external_id"], "P002");
        assert!(page.link.unwrap().contains("changed_since="));
        // The whole list leaves it out, unless asked.
        let live = api
            .call("GET", &format!("/{owner}/{id}/properties"), None)
            .await;
        assert_eq!(live.total, Some(2));
        let all = api
            .call(
                "GET",
                &format!("/{owner}/{id}/properties?include_deleted=true"),
                None,
            )
            .await;
        assert_eq!(all.total, Some(3), "{owner}: {}", all.body);
        assert!(all.body[1]["deleted_at"].is_string());
        let paged = api
            .call(
                "GET",
                &format!("/{owner}/{id}/properties?include_deleted=true&limit=2"),
                None,
            )
            .await;
        assert_eq!(paged.body.as_array().unwrap().len(), 2);
        assert!(paged.link.unwrap().contains("include_deleted=true"));
    }
    api.call(
        "GET",
        &format!("/targets/{t}/properties?include_deleted=maybe"),
        None,
    )
    .await
    .problem(400, "include_deleted must be true or false");
}

/// Issue 20 §9 and §10: the API takes what the CLI and the dashboard take (an array,
/// `{"data": [...]}`, NDJSON) and refuses anything else the same clear way; a patch without
/// `data` says what a patch looks like.
async fn one_rule_for_input(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "website").await;
    let import = format!("/sources/{s}/import?dry_run=true");
    let send = async |body: &str, ct: &str| {
        api.raw(
            "POST",
            &import,
            Some((body.to_string(), ct)),
            Some(&api.key),
        )
        .await
    };
    for (body, ct) in [
        ("[{\"id\": 1}, {\"id\": 2}]", "application/json"),
        ("{\"data\": [{\"id\": 1}, {\"id\": 2}]}", "application/json"),
        ("{\"id\": 1}\n{\"id\": 2}\n", "application/json"),
        ("{\"id\": 1}\n{\"id\": 2}", "application/x-ndjson"),
        ("{\"id\": 1}", "application/x-ndjson"),
    ] {
        let out = send(body, ct).await.expect(200);
        let want = if body.contains("2") { 2 } else { 1 };
        assert_eq!(out["stats"]["created"], want, "{body:?} as {ct}");
    }
    send("{\"id\": 1, \"title\": \"Villa\"}", "application/json")
        .await
        .problem(400, "this is a single object");
    send("id,title\nP1,Villa\n", "application/json")
        .await
        .problem(400, "this file looks like CSV: CSV import is not there yet");
    send("  \n", "application/json")
        .await
        .problem(400, "the input is empty");
    send("", "application/x-www-form-urlencoded")
        .await
        .problem(400, "the input is empty");
    // No body and no content type at all (curl -X POST).
    let resp = api
        .cli
        .post(&import)
        .header("X-API-Key", &api.key)
        .send()
        .await;
    resp.assert_status(StatusCode::BAD_REQUEST);
    let text = resp.0.into_body().into_string().await.unwrap();
    assert!(text.contains("the input is empty"), "{text}");
    // Nothing was written by any of it.
    let records = api
        .call("GET", &format!("/sources/{s}/properties"), None)
        .await;
    assert_eq!(records.total, Some(0));
    // A patch without "data".
    api.call(
        "POST",
        &format!("/sources/{s}/import"),
        Some(json!([listing(1, 100)])),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P001"),
        Some(json!({"title": "New"})),
    )
    .await
    .problem(422, "a patch must look like {\"data\": {...}}");
}
