//! Resolving a warning field by field, through the service and the REST API, on SQLite and
//! (when enabled) PostgreSQL.
mod common;

use common::api::setup;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use sync_manager::AppError;
use sync_manager::ids::{SourceId, TargetId, TenantId, WarningId};
use sync_manager::service::imports::{self, ImportInput, ImportOptions};
use sync_manager::service::sync::{self, SyncOptions};
use sync_manager::service::warnings::{self, Choice, Resolution};
use sync_manager::service::{Actor, properties, sources, targets, tenants};

backend_tests!(
    each_field_is_resolved_as_chosen,
    per_field_choices_must_cover_the_fields,
    the_api_takes_a_choice_per_field,
);

struct Setup {
    tenant: TenantId,
    source: SourceId,
    target: TargetId,
}

async fn import(db: &DatabaseConnection, s: &Setup, records: Value) {
    let records = records.as_array().unwrap().clone();
    imports::import(
        db,
        s.tenant,
        s.source,
        ImportInput::Records(records),
        ImportOptions::default(),
        &Actor::cli(),
        None,
    )
    .await
    .unwrap();
}

async fn sync_now(db: &DatabaseConnection, s: &Setup) -> sync::SyncOutcome {
    sync::sync(
        db,
        s.tenant,
        s.source,
        s.target,
        SyncOptions::default(),
        &Actor::cli(),
    )
    .await
    .unwrap()
}

/// A conflict on `title` and `price` of P1: both changed in the source and by hand.
async fn conflict(db: &DatabaseConnection) -> (Setup, WarningId) {
    let (tenant, _) = tenants::create(db, "Agency", None).await.unwrap();
    let tenant = TenantId(tenant.id);
    let new = |name: &str| sync_manager::service::endpoints::NewEndpoint {
        name: name.into(),
        kind: if name == "portal" {
            "scraped"
        } else {
            "website"
        }
        .into(),
        config: None,
    };
    let source = SourceId(sources::create(db, tenant, new("portal")).await.unwrap().id);
    let target = TargetId(
        targets::create(db, tenant, new("website"))
            .await
            .unwrap()
            .id,
    );
    let s = Setup {
        tenant,
        source,
        target,
    };
    import(
        db,
        &s,
        json!([{"id": "P1", "title": "Villa", "price": 100, "pool": true, "city": "Nerja"}]),
    )
    .await;
    sync_now(db, &s).await;
    properties::patch_target(
        db,
        tenant,
        target,
        "P1",
        &json!({"data": {"title": "Villa with sea view", "price": 95, "pool": null}}),
        &Actor::cli(),
    )
    .await
    .unwrap();
    import(
        db,
        &s,
        json!([{"id": "P1", "title": "Big villa", "price": 120, "city": "Málaga"}]),
    )
    .await;
    let out = sync_now(db, &s).await;
    let w = out.warnings[0].id.unwrap();
    (s, WarningId(w))
}

async fn target_data(db: &DatabaseConnection, s: &Setup) -> Value {
    let p = properties::get_target(db, s.tenant, s.target, "P1")
        .await
        .unwrap();
    serde_json::from_str(&p.data).unwrap()
}

async fn each_field_is_resolved_as_chosen(db: &DatabaseConnection) {
    let (s, w) = conflict(db).await;
    let warning = warnings::get(db, s.tenant, w).await.unwrap();
    let mut fields: Vec<String> = warnings::fields(&warning)
        .into_iter()
        .map(|f| f.field)
        .collect();
    fields.sort();
    // pool: removed by hand, removed in the source too, so no conflict; city: source only.
    assert_eq!(fields, ["price", "title"]);
    let before = target_data(db, &s).await;
    assert_eq!(before["city"], "Málaga", "merged from the source");
    let choice = Choice::Fields(BTreeMap::from([
        ("title".to_string(), Resolution::KeepTarget),
        ("price".to_string(), Resolution::TakeSource),
    ]));
    let out = warnings::resolve_with(db, s.tenant, w, &choice, &Actor::cli())
        .await
        .unwrap();
    assert!(out.changed);
    let after = target_data(db, &s).await;
    assert_eq!(
        after["title"], "Villa with sea view",
        "kept the website's title"
    );
    assert_eq!(after["price"], 120, "took the source's price");
    assert_eq!(after["city"], "Málaga");
    let resolved = warnings::get(db, s.tenant, w).await.unwrap();
    assert_eq!(resolved.status, "resolved");
    assert_eq!(resolved.resolution.as_deref(), Some("per_field"));
    // The resolution is a run, and the version it replaced a snapshot.
    let run = sync_manager::service::runs::get(db, s.tenant, out.run_id)
        .await
        .unwrap();
    assert_eq!(run.kind, "resolve");
    // The next sync leaves the chosen values alone (the source did not change since).
    let again = sync_now(db, &s).await;
    assert_eq!(again.stats.warnings, 0);
    assert_eq!(target_data(db, &s).await, after);
}

async fn per_field_choices_must_cover_the_fields(db: &DatabaseConnection) {
    let (s, w) = conflict(db).await;
    let only_title = Choice::Fields(BTreeMap::from([(
        "title".to_string(),
        Resolution::KeepTarget,
    )]));
    let err = warnings::resolve_with(db, s.tenant, w, &only_title, &Actor::cli())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("missing: price"), "{err}");
    let unknown = Choice::Fields(BTreeMap::from([
        ("title".to_string(), Resolution::KeepTarget),
        ("price".to_string(), Resolution::KeepTarget),
        ("colour".to_string(), Resolution::KeepTarget),
    ]));
    let err = warnings::resolve_with(db, s.tenant, w, &unknown, &Actor::cli())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no field \"colour\""), "{err}");
    // Nothing was changed by the refused attempts.
    assert_eq!(warnings::get(db, s.tenant, w).await.unwrap().status, "open");
    // All fields the same way is the whole-warning resolution.
    let all = Choice::Fields(BTreeMap::from([
        ("title".to_string(), Resolution::TakeSource),
        ("price".to_string(), Resolution::TakeSource),
    ]));
    warnings::resolve_with(db, s.tenant, w, &all, &Actor::cli())
        .await
        .unwrap();
    let resolved = warnings::get(db, s.tenant, w).await.unwrap();
    assert_eq!(resolved.resolution.as_deref(), Some("take_source"));
    let data = target_data(db, &s).await;
    assert_eq!(
        (&data["title"], &data["price"]),
        (&json!("Big villa"), &json!(120))
    );
}

async fn the_api_takes_a_choice_per_field(db: &DatabaseConnection) {
    let api = setup(db).await;
    let s = api.create("/sources", "portal").await;
    let t = api.create("/targets", "website").await;
    let import = format!("/sources/{s}/import");
    api.call(
        "POST",
        &import,
        Some(json!({"data": [{"id": "P1", "title": "Villa", "price": 100}]})),
    )
    .await
    .expect(200);
    api.call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    api.call(
        "PATCH",
        &format!("/targets/{t}/properties/P1"),
        Some(json!({"data": {"title": "Villa with sea view", "price": 95}})),
    )
    .await
    .expect(200);
    api.call(
        "POST",
        &import,
        Some(json!({"data": [{"id": "P1", "title": "Big villa", "price": 120}]})),
    )
    .await
    .expect(200);
    let sync = api
        .call("POST", &format!("/sync/{s}/{t}"), None)
        .await
        .expect(200);
    let w = sync["warnings"][0]["id"].as_i64().unwrap();
    let resolve = format!("/warnings/{w}/resolve");
    api.call(
        "POST",
        &resolve,
        Some(json!({"resolution": "keep_target", "fields": {"title": "keep_target"}})),
    )
    .await
    .problem(422, "either");
    api.call(
        "POST",
        &resolve,
        Some(json!({"fields": {"title": "keep_target"}})),
    )
    .await
    .problem(422, "missing: price");
    api.call(
        "POST",
        &resolve,
        Some(json!({"fields": {"title": "keep_target", "price": "maybe"}})),
    )
    .await
    .problem(400, "");
    let out = api
        .call(
            "POST",
            &resolve,
            Some(json!({"fields": {"title": "keep_target", "price": "take_source"}})),
        )
        .await
        .expect(200);
    assert_eq!(out["warning"]["resolution"], "per_field");
    let record = api
        .call("GET", &format!("/targets/{t}/properties/P1"), None)
        .await
        .expect(200);
    assert_eq!(record["data"]["title"], "Villa with sea view");
    assert_eq!(record["data"]["price"], 120);
}
