//! Service-level integration tests, each on SQLite and (when enabled) PostgreSQL, through the
//! real migrations.
mod common;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, SqlErr, Statement,
};
use serde_json::{Value, json};
use sync_manager::AppError;
use sync_manager::domain::stats::SyncAction;
use sync_manager::entity::{runs, snapshots, source_properties, target_properties, warnings};
use sync_manager::ids::{SourceId, TargetId, TenantId};
use sync_manager::service::imports::{self, ImportInput, ImportMode, ImportOptions, ImportOutcome};
use sync_manager::service::properties::{self, Owner, PropertyFilter, has_manual_changes};
use sync_manager::service::sync::{self, SyncOptions, SyncOutcome};
use sync_manager::service::warnings::{Resolution, WarningFilter};
use sync_manager::service::{
    Actor, cleanup, keys, snapshots as snaps, sources, targets, tenants, warnings as warns,
};

backend_tests!(
    import_classifies_records_and_snapshots_updates,
    import_rejects_invalid_records_individually,
    strict_import_rejects_the_whole_batch,
    malformed_input_is_rejected_without_writing,
    duplicate_ids_last_one_wins,
    byte_identical_reimports_are_unchanged_and_everything_else_is_not,
    byte_identical_reimports_from_a_file,
    full_import_deletes_missing_and_restores_returning,
    full_import_guard_refuses_mass_delete,
    dry_run_import_writes_nothing,
    sync_creates_updates_and_leaves_unchanged,
    merge_policy_keeps_manual_edits_and_warns_on_conflict,
    keep_target_policy_never_touches_edited_records,
    overwrite_policy_warns_and_snapshot_restores_the_edit,
    delete_policies,
    sync_dry_run_returns_plan_and_writes_nothing,
    resolve_take_source_and_keep_target,
    restore_snapshot_of_target_property,
    rollback_sync_run_and_skip_changed_since,
    rollback_import_removes_created_records,
    rollback_of_a_sync_whose_source_was_deleted,
    cleanup_by_age_keeps_merge_base,
    tenant_isolation,
    api_keys_authenticate_revoke_rotate,
    manual_source_entry,
    source_and_target_validation,
    concurrent_syncs_of_one_pair_are_serialised,
    kept_live_counts_follow_every_write,
    list_pages_show_the_stored_records,
    references_are_kept_by_the_database,
    the_references_migration_goes_down_and_up_again,
    two_sources_of_a_tenant_are_deleted_at_once,
    one_id_in_several_write_batches,
);

struct Fixture {
    tenant: TenantId,
    source: SourceId,
    target: TargetId,
}

async fn fixture(db: &DatabaseConnection, target_config: Value) -> Fixture {
    let (tenant, _) = tenants::create(db, "Agency", None).await.unwrap();
    pair(db, TenantId(tenant.id), target_config).await
}

/// A source and a target of `tenant`.
async fn pair(db: &DatabaseConnection, tenant: TenantId, target_config: Value) -> Fixture {
    let source = sources::create(
        db,
        tenant,
        sources::NewSource {
            name: "portal".into(),
            kind: "scraped".into(),
            config: None,
        },
    )
    .await
    .unwrap();
    let target = targets::create(
        db,
        tenant,
        targets::NewTarget {
            name: "website".into(),
            kind: "website".into(),
            config: Some(target_config),
        },
    )
    .await
    .unwrap();
    Fixture {
        tenant,
        source: SourceId(source.id),
        target: TargetId(target.id),
    }
}

fn listing(i: u32, price: u32) -> Value {
    json!({
        "id": format!("P{i}"),
        "title": format!("Villa {i}"),
        "price": price,
        "location": {"city": "Madrid", "lat": 40.4},
        "features": ["pool", "garden"],
    })
}

async fn import_opts(
    db: &DatabaseConnection,
    f: &Fixture,
    records: Vec<Value>,
    opts: ImportOptions,
) -> Result<ImportOutcome, AppError> {
    imports::import(
        db,
        f.tenant,
        f.source,
        ImportInput::Records(records),
        opts,
        &Actor::cli(),
        None,
    )
    .await
}

async fn import(db: &DatabaseConnection, f: &Fixture, records: Vec<Value>) -> ImportOutcome {
    import_opts(db, f, records, ImportOptions::default())
        .await
        .unwrap()
}

async fn run_sync(db: &DatabaseConnection, f: &Fixture) -> SyncOutcome {
    sync::sync(
        db,
        f.tenant,
        f.source,
        f.target,
        SyncOptions::default(),
        &Actor::cli(),
    )
    .await
    .unwrap()
}

async fn edit(db: &DatabaseConnection, f: &Fixture, id: &str, patch: Value) {
    properties::patch_target(db, f.tenant, f.target, id, &patch, &Actor::cli())
        .await
        .unwrap();
}

async fn target_data(db: &DatabaseConnection, f: &Fixture, id: &str) -> Value {
    let p = properties::get_target(db, f.tenant, f.target, id)
        .await
        .unwrap();
    serde_json::from_str(&p.data).unwrap()
}

/// Rows of each table; of runs, those that did not fail (a refused operation leaves a failed
/// run behind, which changed nothing).
async fn counts(db: &DatabaseConnection) -> [u64; 5] {
    use sea_orm::{ColumnTrait, QueryFilter};
    [
        source_properties::Entity::find().count(db).await.unwrap(),
        target_properties::Entity::find().count(db).await.unwrap(),
        snapshots::Entity::find().count(db).await.unwrap(),
        runs::Entity::find()
            .filter(runs::Column::Status.ne("failed"))
            .count(db)
            .await
            .unwrap(),
        warnings::Entity::find().count(db).await.unwrap(),
    ]
}

async fn import_classifies_records_and_snapshots_updates(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let out = import(db, &f, (1..=5).map(|i| listing(i, 100)).collect()).await;
    assert_eq!(
        (out.stats.created, out.stats.updated, out.stats.unchanged),
        (5, 0, 0)
    );
    assert!(out.run_id.is_some());
    // Key order and whitespace do not matter; one price changed; one new.
    let mut records: Vec<Value> = (1..=5).map(|i| listing(i, 100)).collect();
    records[0] = serde_json::from_str(
        r#"{"features":["pool","garden"],"location":{"lat":40.4,"city":"Madrid"},"price":100,"title":"Villa 1","id":"P1"}"#,
    )
    .unwrap();
    records[1] = listing(2, 150);
    records.push(listing(6, 100));
    let before = counts(db).await;
    let out = import(db, &f, records).await;
    assert_eq!(out.stats.created, 1);
    assert_eq!(out.stats.updated, 1);
    assert_eq!(out.stats.unchanged, 4);
    let after = counts(db).await;
    assert_eq!(
        after[2] - before[2],
        1,
        "exactly one snapshot, of the updated record"
    );
    let p2 = properties::get_source(db, f.tenant, f.source, "P2")
        .await
        .unwrap();
    let history = snaps::list_for_property(db, f.tenant, snaps::PropertyKind::Source, p2.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&history[0].data).unwrap()["price"],
        100
    );
    assert_eq!(
        serde_json::from_str::<Value>(&p2.data).unwrap()["price"],
        150
    );
    // Integer ids are converted to their decimal text.
    let out = import(
        db,
        &f,
        vec![
            json!({"id": 42, "t": 1}),
            json!({"external_id": "E1", "id": 7}),
        ],
    )
    .await;
    assert_eq!(out.stats.created, 2);
    properties::get_source(db, f.tenant, f.source, "42")
        .await
        .unwrap();
    properties::get_source(db, f.tenant, f.source, "E1")
        .await
        .unwrap();
}

async fn import_rejects_invalid_records_individually(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let records = vec![
        listing(1, 100),
        json!({"title": "no id"}),
        json!({"id": ""}),
        json!({"id": 1.5}),
        json!("not an object"),
        json!({"id": true}),
        listing(2, 100),
    ];
    let out = import(db, &f, records).await;
    assert_eq!(out.stats.created, 2);
    assert_eq!(out.stats.rejected, 5);
    let indexes: Vec<u64> = out.errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![1, 2, 3, 4, 5]);
    assert!(
        out.errors[0].reason.contains("external_id"),
        "{}",
        out.errors[0].reason
    );
    assert!(out.errors[3].reason.contains("not a JSON object"));
    // One warning summarises the rejected records.
    let open = warns::list(
        db,
        f.tenant,
        &WarningFilter {
            status: Some("open".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, "rejected");
}

async fn strict_import_rejects_the_whole_batch(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let before = counts(db).await;
    let err = import_opts(
        db,
        &f,
        vec![listing(1, 1), json!({"id": null}), listing(2, 2)],
        ImportOptions {
            strict: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    match err {
        AppError::Rejected { errors } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].index, 1);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(counts(db).await, before, "nothing written");
    // The attempt is in the audit trail, as a failed run that says why.
    let last = sync_manager::service::runs::list(db, f.tenant, 1, None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (last.kind.as_str(), last.status.as_str()),
        ("import", "failed")
    );
    assert!(
        last.detail
            .as_deref()
            .unwrap_or("")
            .contains("strict import rejected"),
        "{last:?}"
    );
}

async fn malformed_input_is_rejected_without_writing(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let before = counts(db).await;
    for (input, needle) in [
        (r#"{"id": "P1"}"#, "this is a single object"),
        (r#"[{"id": "P1"}, {"id": "P2""#, "line 1"),
        (r#"[{"id": "P1"}] trailing"#, "trailing"),
        ("", "the input is empty"),
        ("id,title\nP1,Villa", "this file looks like CSV"),
    ] {
        let err = imports::import(
            db,
            f.tenant,
            f.source,
            ImportInput::Reader(Box::new(std::io::Cursor::new(input.as_bytes().to_vec()))),
            ImportOptions::default(),
            &Actor::cli(),
            None,
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, AppError::Malformed(_)), "{msg}");
        assert!(msg.contains(needle), "{input:?}: {msg}");
    }
    assert_eq!(counts(db).await, before, "nothing written");
    // A large streamed input spanning many chunks works.
    let mut text = String::from("[");
    for i in 0..2500 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&listing(i, i).to_string());
    }
    text.push(']');
    let out = imports::import(
        db,
        f.tenant,
        f.source,
        ImportInput::Reader(Box::new(std::io::Cursor::new(text.into_bytes()))),
        ImportOptions::default(),
        &Actor::cli(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.stats.created, 2500);
}

async fn duplicate_ids_last_one_wins(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let mut records = vec![listing(1, 1), listing(2, 2), listing(1, 3)];
    // And a duplicate far apart, across parser chunks.
    records.extend((10..1500).map(|i| listing(i, 1)));
    records.push(listing(10, 99));
    let out = import(db, &f, records).await;
    assert_eq!(out.stats.created, 1492);
    let superseded: Vec<u64> = out.errors.iter().map(|e| e.index).collect();
    assert_eq!(superseded, vec![0, 3]);
    assert!(out.errors[0].reason.contains("superseded by record 2"));
    assert_eq!(out.stats.rejected, 0);
    let p1 = properties::get_source(db, f.tenant, f.source, "P1")
        .await
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&p1.data).unwrap()["price"], 3);
    let p10 = properties::get_source(db, f.tenant, f.source, "P10")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&p10.data).unwrap()["price"],
        99
    );
    // Re-import with a duplicate of an existing record: counted once, as updated.
    let out = import(db, &f, vec![listing(2, 5), listing(2, 6)]).await;
    assert_eq!(
        (out.stats.updated, out.stats.unchanged, out.stats.created),
        (1, 0, 0)
    );
    let p2 = properties::get_source(db, f.tenant, f.source, "P2")
        .await
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&p2.data).unwrap()["price"], 6);
    // New records are written by plain inserts; a new id that comes again after its first
    // copy was written (a later batch: 5,000 rows on PostgreSQL) takes the upsert.
    let g = fixture(db, json!({})).await;
    let mut records: Vec<Value> = (1..=5001).map(|i| listing(i, 1)).collect();
    records.push(listing(1, 2));
    records.push(listing(5001, 3));
    let out = import(db, &g, records).await;
    assert_eq!(out.stats.created, 5001);
    for (id, price) in [("P1", 2), ("P5001", 3)] {
        let p = properties::get_source(db, g.tenant, g.source, id)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&p.data).unwrap()["price"],
            price
        );
    }
}

/// Imports `text` as a stream (the path where byte-identical records are not parsed again).
/// Imports `text` as a stream (`file` false) or from a file.
async fn import_via(
    db: &DatabaseConnection,
    f: &Fixture,
    text: &str,
    opts: ImportOptions,
    file: bool,
) -> ImportOutcome {
    let input = if file {
        let mut tmp = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut tmp, text.as_bytes()).unwrap();
        std::io::Seek::rewind(&mut tmp).unwrap();
        ImportInput::File(tmp)
    } else {
        ImportInput::Reader(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())))
    };
    imports::import(db, f.tenant, f.source, input, opts, &Actor::cli(), None)
        .await
        .unwrap()
}

async fn source_value(db: &DatabaseConnection, f: &Fixture, id: &str) -> Value {
    let p = properties::get_source(db, f.tenant, f.source, id)
        .await
        .unwrap();
    serde_json::from_str(&p.data).unwrap()
}

fn stats(out: &ImportOutcome) -> [u64; 5] {
    let s = &out.stats;
    [s.created, s.updated, s.unchanged, s.deleted, s.restored]
}

async fn byte_identical_reimports_are_unchanged_and_everything_else_is_not(
    db: &DatabaseConnection,
) {
    byte_identical_reimports(db, false).await;
}

/// The same, the input read from a file (read again where needed rather than held).
async fn byte_identical_reimports_from_a_file(db: &DatabaseConnection) {
    byte_identical_reimports(db, true).await;
}

async fn byte_identical_reimports(db: &DatabaseConnection, file: bool) {
    use sea_orm::ConnectionTrait;
    let import_bytes = async |db, f, text, opts| import_via(db, f, text, opts, file).await;
    let f = fixture(db, json!({})).await;
    let day1 = r#"[{"id":"A","v":1}, {"id":"B","v":1},
        {"id":"C","v":1}]"#;
    let opts = ImportOptions::default();
    // Other spellings of the same records are unchanged too (C's 1.0 is another number).
    let spaced = r#"[ { "v": 1, "id": "A" }, {"id":"B","v":1}, {"id":"C","v":1.0} ]"#;
    for (input, expected) in [
        (day1, [3, 0, 0, 0, 0]),
        (day1, [0, 0, 3, 0, 0]),
        (spaced, [0, 1, 2, 0, 0]),
        (day1, [0, 1, 2, 0, 0]),
    ] {
        assert_eq!(stats(&import_bytes(db, &f, input, opts).await), expected);
    }

    // A record changed by another writer since: the same bytes are an update again.
    let edited = sync_manager::domain::canonical::Canonical::of(&json!({"id": "A", "v": 9}));
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE source_properties SET data = $1, hash = $2 WHERE external_id = 'A'"
    } else {
        "UPDATE source_properties SET data = ?, hash = ? WHERE external_id = 'A'"
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [edited.text.into(), edited.hash.into()],
    ))
    .await
    .unwrap();
    assert_eq!(
        stats(&import_bytes(db, &f, day1, opts).await),
        [0, 1, 2, 0, 0]
    );
    assert_eq!(source_value(db, &f, "A").await["v"], 1);

    // Duplicates: a changed version, then the stored bytes again: the stored version stays.
    let out = import_bytes(db, &f, r#"[{"id":"B","v":2},{"id":"B","v":1}]"#, opts).await;
    assert_eq!(stats(&out), [0, 0, 1, 0, 0]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(source_value(db, &f, "B").await["v"], 1);
    // The stored bytes twice: unchanged, the first one superseded.
    let out = import_bytes(db, &f, r#"[{"id":"B","v":1},{"id":"B","v":1}]"#, opts).await;
    assert_eq!(stats(&out), [0, 0, 1, 0, 0]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(source_value(db, &f, "B").await["v"], 1);
    // The stored bytes, then a changed version: the change wins.
    let out = import_bytes(db, &f, r#"[{"id":"C","v":1},{"id":"C","v":3}]"#, opts).await;
    assert_eq!(stats(&out), [0, 1, 0, 0, 0]);
    assert_eq!(source_value(db, &f, "C").await["v"], 3);

    // Soft-deleted records come back as restored even when their bytes are known.
    let full = ImportOptions {
        mode: ImportMode::Full,
        force: true,
        ..Default::default()
    };
    let out = import_bytes(db, &f, r#"[{"id":"A","v":1}]"#, full).await;
    assert_eq!(stats(&out), [0, 0, 1, 2, 0]);
    let out = import_bytes(db, &f, day1, opts).await;
    assert_eq!(stats(&out), [0, 0, 1, 0, 2]);
    assert_eq!(source_value(db, &f, "C").await["v"], 1);
    assert_eq!(
        stats(&import_bytes(db, &f, day1, opts).await),
        [0, 0, 3, 0, 0]
    );
}

async fn full_import_deletes_missing_and_restores_returning(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=10).map(|i| listing(i, 1)).collect()).await;
    let full = ImportOptions {
        mode: ImportMode::Full,
        ..Default::default()
    };
    let out = import_opts(db, &f, (1..=8).map(|i| listing(i, 1)).collect(), full)
        .await
        .unwrap();
    assert_eq!((out.stats.deleted, out.stats.unchanged), (2, 8));
    let p9 = properties::get_source(db, f.tenant, f.source, "P9")
        .await
        .unwrap();
    assert!(p9.deleted_at.is_some());
    let live = properties::list_source(db, f.tenant, f.source, &PropertyFilter::default())
        .await
        .unwrap();
    assert_eq!(live.len(), 8);
    // P9 comes back.
    let out = import_opts(db, &f, (1..=9).map(|i| listing(i, 1)).collect(), full)
        .await
        .unwrap();
    assert_eq!(
        (out.stats.restored, out.stats.deleted, out.stats.unchanged),
        (1, 0, 8)
    );
    let p9 = properties::get_source(db, f.tenant, f.source, "P9")
        .await
        .unwrap();
    assert!(p9.deleted_at.is_none());
}

async fn full_import_guard_refuses_mass_delete(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=10).map(|i| listing(i, 1)).collect()).await;
    let before = counts(db).await;
    let full = ImportOptions {
        mode: ImportMode::Full,
        ..Default::default()
    };
    let err = import_opts(db, &f, (1..=3).map(|i| listing(i, 2)).collect(), full)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)));
    assert!(err.to_string().contains("7 of 10"), "{err}");
    assert_eq!(
        counts(db).await,
        before,
        "nothing written, not even the updates"
    );
    // An empty full import is refused too.
    assert!(import_opts(db, &f, vec![], full).await.is_err());
    // Forced, it goes through.
    let forced = ImportOptions {
        force: true,
        ..full
    };
    let out = import_opts(db, &f, (1..=3).map(|i| listing(i, 2)).collect(), forced)
        .await
        .unwrap();
    assert_eq!((out.stats.deleted, out.stats.updated), (7, 3));
    // The threshold comes from the source config.
    sources::update(
        db,
        f.tenant,
        f.source,
        sources::SourceUpdate {
            config: Some(json!({"max_delete_fraction": 1.0})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = import_opts(db, &f, vec![listing(1, 2)], full)
        .await
        .unwrap();
    assert_eq!(out.stats.deleted, 2);
}

async fn dry_run_import_writes_nothing(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=4).map(|i| listing(i, 1)).collect()).await;
    let before = counts(db).await;
    let dry = ImportOptions {
        dry_run: true,
        mode: ImportMode::Full,
        force: true,
        ..Default::default()
    };
    let out = import_opts(
        db,
        &f,
        vec![listing(1, 1), listing(2, 9), listing(7, 1), json!({})],
        dry,
    )
    .await
    .unwrap();
    assert!(out.dry_run);
    assert_eq!(out.run_id, None);
    assert_eq!(
        (
            out.stats.created,
            out.stats.updated,
            out.stats.unchanged,
            out.stats.deleted,
            out.stats.rejected
        ),
        (1, 1, 1, 2, 1)
    );
    assert_eq!(counts(db).await, before);
}

async fn sync_creates_updates_and_leaves_unchanged(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=5).map(|i| listing(i, 100)).collect()).await;
    let out = run_sync(db, &f).await;
    assert_eq!(
        (out.stats.created, out.stats.updated, out.stats.unchanged),
        (5, 0, 0)
    );
    let t = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    let s = properties::get_source(db, f.tenant, f.source, "P1")
        .await
        .unwrap();
    assert_eq!(t.data, s.data);
    assert_eq!(t.synced_hash.as_deref(), Some(s.hash.as_str()));
    assert_eq!(t.source_property_id, Some(s.id));
    assert!(
        t.base_data.is_none(),
        "the base is stored only once it differs"
    );
    assert!(!has_manual_changes(&t));
    let out = run_sync(db, &f).await;
    assert_eq!(
        (out.stats.created, out.stats.updated, out.stats.unchanged),
        (0, 0, 5)
    );
    let mut day2: Vec<Value> = (1..=5).map(|i| listing(i, 100)).collect();
    day2[2] = listing(3, 300);
    import(db, &f, day2).await;
    let before = counts(db).await;
    let out = run_sync(db, &f).await;
    assert_eq!(
        (out.stats.created, out.stats.updated, out.stats.unchanged),
        (0, 1, 4)
    );
    assert_eq!(target_data(db, &f, "P3").await["price"], 300);
    assert_eq!(
        counts(db).await[2] - before[2],
        1,
        "the old target version was snapshotted"
    );
}

async fn merge_policy_keeps_manual_edits_and_warns_on_conflict(db: &DatabaseConnection) {
    let f = fixture(db, json!({"conflict_policy": "merge"})).await;
    import(db, &f, vec![listing(1, 100), listing(2, 200)]).await;
    run_sync(db, &f).await;
    // The agent fixes the title of P1 and the price of P2 by hand.
    edit(
        db,
        &f,
        "P1",
        json!({"data": {"title": "Villa with sea view"}}),
    )
    .await;
    edit(db, &f, "P2", json!({"data": {"price": 190}})).await;
    let manual = properties::list_target(
        db,
        f.tenant,
        f.target,
        &PropertyFilter {
            has_manual_changes: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(manual.len(), 2);
    // Source unchanged: the edits survive, nothing counted as updated.
    let out = run_sync(db, &f).await;
    assert_eq!(
        (out.stats.updated, out.stats.unchanged, out.stats.warnings),
        (0, 2, 0)
    );
    assert_eq!(
        target_data(db, &f, "P1").await["title"],
        "Villa with sea view"
    );
    // The source changes P1's price (no conflict) and P2's price (conflict).
    import(db, &f, vec![listing(1, 110), listing(2, 250)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!(out.stats.warnings, 1);
    let p1 = target_data(db, &f, "P1").await;
    assert_eq!(p1["title"], "Villa with sea view", "manual edit kept");
    assert_eq!(p1["price"], 110, "source change merged");
    let p2 = target_data(db, &f, "P2").await;
    assert_eq!(p2["price"], 190, "conflicting manual value kept");
    let w = &out.warnings[0];
    assert_eq!(w.kind, "conflict");
    assert_eq!(w.external_id, "P2");
    assert_eq!(w.fields.len(), 1);
    assert_eq!(w.fields[0].field, "price");
    assert_eq!(w.fields[0].base, Some(json!(200)));
    assert_eq!(w.fields[0].source, Some(json!(250)));
    assert_eq!(w.fields[0].target, Some(json!(190)));
    assert!(w.id.is_some());
    // The base moved to the new source version; a further sync changes nothing and does not
    // repeat the warning.
    let t1 = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    assert!(has_manual_changes(&t1));
    assert!(t1.base_data.is_some());
    let out = run_sync(db, &f).await;
    assert_eq!((out.stats.updated, out.stats.warnings), (0, 0));
    // A later source change of another field still merges.
    let mut p1 = listing(1, 110);
    p1["features"] = json!(["pool"]);
    import(db, &f, vec![p1]).await;
    run_sync(db, &f).await;
    let p1 = target_data(db, &f, "P1").await;
    assert_eq!(p1["features"], json!(["pool"]));
    assert_eq!(p1["title"], "Villa with sea view");
}

async fn keep_target_policy_never_touches_edited_records(db: &DatabaseConnection) {
    let f = fixture(db, json!({"conflict_policy": "keep_target"})).await;
    import(db, &f, vec![listing(1, 100), listing(2, 200)]).await;
    run_sync(db, &f).await;
    edit(db, &f, "P1", json!({"data": {"title": "Mine"}})).await;
    import(db, &f, vec![listing(1, 111), listing(2, 222)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!((out.stats.updated, out.stats.warnings), (1, 1));
    assert_eq!(out.warnings[0].kind, "kept_target");
    let p1 = target_data(db, &f, "P1").await;
    assert_eq!(
        (p1["title"].clone(), p1["price"].clone()),
        (json!("Mine"), json!(100))
    );
    assert_eq!(target_data(db, &f, "P2").await["price"], 222);
    // The same source version does not warn twice.
    let out = run_sync(db, &f).await;
    assert_eq!(out.stats.warnings, 0);
}

async fn overwrite_policy_warns_and_snapshot_restores_the_edit(db: &DatabaseConnection) {
    let f = fixture(db, json!({"conflict_policy": "overwrite"})).await;
    import(db, &f, vec![listing(1, 100)]).await;
    run_sync(db, &f).await;
    edit(db, &f, "P1", json!({"data": {"title": "Mine"}})).await;
    import(db, &f, vec![listing(1, 120)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!((out.stats.updated, out.stats.warnings), (1, 1));
    let w = &out.warnings[0];
    assert_eq!(w.kind, "overwritten");
    let fields: Vec<&str> = w.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, vec!["price", "title"]);
    assert_eq!(target_data(db, &f, "P1").await["title"], "Villa 1");
    // The overwritten version is in a snapshot and can be restored.
    let t = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    let history = snaps::list_for_property(db, f.tenant, snaps::PropertyKind::Target, t.id)
        .await
        .unwrap();
    let edited = history
        .iter()
        .find(|s| s.data.contains("Mine"))
        .expect("snapshot of the manual edit");
    snaps::restore(
        db,
        f.tenant,
        sync_manager::ids::SnapshotId(edited.id),
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(target_data(db, &f, "P1").await["title"], "Mine");
}

async fn delete_policies(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=4).map(|i| listing(i, 1)).collect()).await;
    run_sync(db, &f).await;
    edit(db, &f, "P4", json!({"data": {"title": "Edited"}})).await;
    let full = ImportOptions {
        mode: ImportMode::Full,
        ..Default::default()
    };
    import_opts(db, &f, vec![listing(1, 1), listing(2, 1)], full)
        .await
        .unwrap();
    let out = run_sync(db, &f).await;
    assert_eq!(out.stats.deleted, 2);
    assert_eq!(out.stats.warnings, 1, "deleting a hand-edited record warns");
    assert_eq!(out.warnings[0].kind, "deleted_manual");
    let t3 = properties::get_target(db, f.tenant, f.target, "P3")
        .await
        .unwrap();
    assert!(t3.deleted_at.is_some());
    // Resolving keep_target brings the edited record back and later syncs leave it.
    let wid = sync_manager::ids::WarningId(out.warnings[0].id.unwrap());
    warns::resolve(db, f.tenant, wid, Resolution::KeepTarget, &Actor::cli())
        .await
        .unwrap();
    let t4 = properties::get_target(db, f.tenant, f.target, "P4")
        .await
        .unwrap();
    assert!(t4.deleted_at.is_none());
    let out = run_sync(db, &f).await;
    assert_eq!((out.stats.deleted, out.stats.warnings), (0, 0));
    // The source record comes back: the target follows.
    import(db, &f, vec![listing(3, 1)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!(out.stats.updated, 1);
    assert!(
        properties::get_target(db, f.tenant, f.target, "P3")
            .await
            .unwrap()
            .deleted_at
            .is_none()
    );

    // delete_policy ignore keeps target records.
    let g = fixture(db, json!({"delete_policy": "ignore"})).await;
    import(db, &g, vec![listing(1, 1), listing(2, 1)]).await;
    run_sync(db, &g).await;
    import_opts(
        db,
        &g,
        vec![listing(1, 1)],
        ImportOptions {
            force: true,
            ..full
        },
    )
    .await
    .unwrap();
    let out = run_sync(db, &g).await;
    assert_eq!((out.stats.deleted, out.stats.unchanged), (0, 2));
    assert!(
        properties::get_target(db, g.tenant, g.target, "P2")
            .await
            .unwrap()
            .deleted_at
            .is_none()
    );
}

async fn sync_dry_run_returns_plan_and_writes_nothing(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 1), listing(2, 1)]).await;
    run_sync(db, &f).await;
    edit(db, &f, "P2", json!({"data": {"price": 5}})).await;
    import(db, &f, vec![listing(1, 2), listing(2, 7), listing(3, 1)]).await;
    let before = counts(db).await;
    let target_before = properties::list_target(db, f.tenant, f.target, &PropertyFilter::default())
        .await
        .unwrap();
    let out = sync::sync(
        db,
        f.tenant,
        f.source,
        f.target,
        SyncOptions { dry_run: true },
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(out.dry_run);
    assert_eq!(out.run_id, None);
    assert_eq!(
        (out.stats.created, out.stats.updated, out.stats.warnings),
        (1, 1, 1)
    );
    let plan: Vec<(String, SyncAction)> = out
        .plan
        .iter()
        .map(|p| (p.external_id.clone(), p.action))
        .collect();
    assert!(plan.contains(&("P1".into(), SyncAction::Update)));
    assert!(plan.contains(&("P3".into(), SyncAction::Create)));
    assert!(plan.contains(&("P2".into(), SyncAction::Merge)));
    assert_eq!(out.warnings[0].id, None);
    assert_eq!(counts(db).await, before);
    let target_after = properties::list_target(db, f.tenant, f.target, &PropertyFilter::default())
        .await
        .unwrap();
    assert_eq!(target_before, target_after);
}

async fn resolve_take_source_and_keep_target(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100), listing(2, 200)]).await;
    run_sync(db, &f).await;
    edit(db, &f, "P1", json!({"data": {"price": 90}})).await;
    edit(db, &f, "P2", json!({"data": {"price": 190}})).await;
    import(db, &f, vec![listing(1, 150), listing(2, 250)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!(out.warnings.len(), 2);
    let by_id = |id: &str| {
        sync_manager::ids::WarningId(
            out.warnings
                .iter()
                .find(|w| w.external_id == id)
                .unwrap()
                .id
                .unwrap(),
        )
    };
    let r = warns::resolve(
        db,
        f.tenant,
        by_id("P1"),
        Resolution::TakeSource,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(r.changed);
    let t1 = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&t1.data).unwrap()["price"],
        150
    );
    assert!(!has_manual_changes(&t1), "now identical to the source");
    let r = warns::resolve(
        db,
        f.tenant,
        by_id("P2"),
        Resolution::KeepTarget,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(!r.changed);
    assert_eq!(target_data(db, &f, "P2").await["price"], 190);
    // Resolved once only; recorded as runs.
    let again = warns::resolve(
        db,
        f.tenant,
        by_id("P2"),
        Resolution::KeepTarget,
        &Actor::cli(),
    )
    .await
    .unwrap_err();
    assert!(matches!(again, AppError::Conflict(_)));
    let open = warns::count(
        db,
        f.tenant,
        &WarningFilter {
            status: Some("open".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(open, 0);
    let resolves = sync_manager::service::runs::list(db, f.tenant, 100, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "resolve")
        .count();
    assert_eq!(resolves, 2);
    let bad = warns::list(
        db,
        f.tenant,
        &WarningFilter {
            status: Some("closed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("open or resolved"));
}

async fn restore_snapshot_of_target_property(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100)]).await;
    run_sync(db, &f).await;
    edit(
        db,
        &f,
        "P1",
        json!({"data": {"title": "A", "features": null}}),
    )
    .await;
    let data = target_data(db, &f, "P1").await;
    assert!(data.get("features").is_none(), "null removes a field");
    let t = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    let history = snaps::list_for_property(db, f.tenant, snaps::PropertyKind::Target, t.id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    snaps::restore(
        db,
        f.tenant,
        sync_manager::ids::SnapshotId(history[0].id),
        &Actor::cli(),
    )
    .await
    .unwrap();
    let t = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&t.data).unwrap(),
        listing(1, 100)
    );
    assert!(!has_manual_changes(&t), "back to what the sync wrote");
    assert!(t.base_data.is_none());
    let history = snaps::list_for_property(db, f.tenant, snaps::PropertyKind::Target, t.id)
        .await
        .unwrap();
    assert_eq!(
        history.len(),
        2,
        "the version before the restore was snapshotted"
    );
    // Only data is writable; bad patches say what to fix and change nothing.
    for (patch, needle) in [
        (json!({"hash": "x"}), "only \"data\" is writable"),
        (json!({"data": 5}), "JSON object"),
        (json!([1]), "JSON object"),
        (json!({"data": {"id": "P2"}}), "cannot be changed"),
    ] {
        let err = properties::patch_target(db, f.tenant, f.target, "P1", &patch, &Actor::cli())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{patch}: {err}");
    }
    let missing = properties::patch_target(
        db,
        f.tenant,
        f.target,
        "NOPE",
        &json!({"data": {}}),
        &Actor::cli(),
    )
    .await
    .unwrap_err();
    assert!(matches!(missing, AppError::NotFound { .. }));
}

async fn rollback_sync_run_and_skip_changed_since(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100), listing(2, 200)]).await;
    run_sync(db, &f).await;
    import(
        db,
        &f,
        vec![listing(1, 111), listing(2, 222), listing(3, 300)],
    )
    .await;
    let out = run_sync(db, &f).await;
    assert_eq!((out.stats.created, out.stats.updated), (1, 2));
    // P2 is edited by hand after the sync: the rollback must leave it.
    edit(db, &f, "P2", json!({"data": {"title": "Hand"}})).await;
    let rb = snaps::rollback_run(db, f.tenant, out.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    assert_eq!((rb.restored, rb.removed), (1, 1));
    assert_eq!(rb.skipped.len(), 1);
    assert_eq!(rb.skipped[0].external_id, "P2");
    assert_eq!(target_data(db, &f, "P1").await["price"], 100);
    assert_eq!(target_data(db, &f, "P2").await["title"], "Hand");
    assert!(
        properties::get_target(db, f.tenant, f.target, "P3")
            .await
            .is_err()
    );
    // Not twice.
    let err = snaps::rollback_run(db, f.tenant, out.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already rolled back"));
    // The next sync brings the source state back.
    let again = run_sync(db, &f).await;
    assert_eq!(again.stats.created, 1);
    assert_eq!(target_data(db, &f, "P1").await["price"], 111);
}

/// The pre-run versions of a sync's records point at source records; when the source was
/// deleted since, a rollback brings the data back without the link (no broken reference).
async fn rollback_of_a_sync_whose_source_was_deleted(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100)]).await;
    run_sync(db, &f).await;
    import(db, &f, vec![listing(1, 111)]).await;
    let out = run_sync(db, &f).await;
    assert_eq!(out.stats.updated, 1);
    sources::delete(db, f.tenant, f.source).await.unwrap();
    let rb = snaps::rollback_run(db, f.tenant, out.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    assert_eq!((rb.restored, rb.removed, rb.skipped.len()), (1, 0, 0));
    assert_eq!(target_data(db, &f, "P1").await["price"], 100);
    let p1 = properties::get_target(db, f.tenant, f.target, "P1")
        .await
        .unwrap();
    assert_eq!(p1.source_property_id, None);
}

async fn rollback_import_removes_created_records(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100)]).await;
    let out = import(db, &f, vec![listing(1, 150), listing(2, 200)]).await;
    let rb = snaps::rollback_run(db, f.tenant, out.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    assert_eq!((rb.restored, rb.removed, rb.skipped.len()), (1, 1, 0));
    let p1 = properties::get_source(db, f.tenant, f.source, "P1")
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&p1.data).unwrap()["price"],
        100
    );
    assert!(
        properties::get_source(db, f.tenant, f.source, "P2")
            .await
            .is_err()
    );
    // A full import's deletions are undone too.
    let full = ImportOptions {
        mode: ImportMode::Full,
        force: true,
        ..Default::default()
    };
    import(db, &f, vec![listing(2, 1), listing(3, 1)]).await;
    let out = import_opts(db, &f, vec![listing(3, 1)], full)
        .await
        .unwrap();
    assert_eq!(out.stats.deleted, 2);
    snaps::rollback_run(db, f.tenant, out.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    let live = properties::list_source(db, f.tenant, f.source, &PropertyFilter::default())
        .await
        .unwrap();
    assert_eq!(live.len(), 3);
}

async fn cleanup_by_age_keeps_merge_base(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 100)]).await;
    run_sync(db, &f).await;
    edit(db, &f, "P1", json!({"data": {"title": "Mine"}})).await;
    import(db, &f, vec![listing(1, 120)]).await;
    let before = counts(db).await;
    assert!(before[2] >= 2);
    // Nothing is older than 30 days.
    let out = cleanup::cleanup(db, f.tenant, None, false, &Actor::cli())
        .await
        .unwrap();
    assert_eq!((out.days, out.snapshots), (30, 0));
    // A dry run counts without deleting.
    let dry = cleanup::cleanup(db, f.tenant, Some(0), true, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(dry.snapshots, before[2]);
    assert_eq!(counts(db).await[2], before[2]);
    let out = cleanup::cleanup(db, f.tenant, Some(0), false, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(out.snapshots, before[2]);
    assert_eq!(counts(db).await[2], 0);
    assert!(out.runs > 0);
    // The merge base survived: the next sync merges instead of overwriting the edit.
    let s = run_sync(db, &f).await;
    assert_eq!(s.stats.warnings, 0);
    let p1 = target_data(db, &f, "P1").await;
    assert_eq!(
        (p1["title"].clone(), p1["price"].clone()),
        (json!("Mine"), json!(120))
    );
    let err = cleanup::cleanup(db, f.tenant, Some(-1), false, &Actor::cli())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid { .. }));
}

async fn tenant_isolation(db: &DatabaseConnection) {
    let a = fixture(db, json!({})).await;
    let b = fixture(db, json!({})).await;
    import(db, &a, vec![listing(1, 1)]).await;
    run_sync(db, &a).await;
    let actor = Actor::cli();
    let not_found =
        |r: Result<(), AppError>| assert!(matches!(r, Err(AppError::NotFound { .. })), "{r:?}");
    not_found(sources::get(db, b.tenant, a.source).await.map(|_| ()));
    not_found(targets::get(db, b.tenant, a.target).await.map(|_| ()));
    not_found(
        imports::import(
            db,
            b.tenant,
            a.source,
            ImportInput::Records(vec![listing(9, 9)]),
            ImportOptions::default(),
            &actor,
            None,
        )
        .await
        .map(|_| ()),
    );
    for (source, target) in [
        (a.source, a.target),
        (b.source, a.target),
        (a.source, b.target),
    ] {
        let synced = sync::sync(db, b.tenant, source, target, SyncOptions::default(), &actor).await;
        not_found(synced.map(|_| ()));
    }
    not_found(
        properties::get_target(db, b.tenant, a.target, "P1")
            .await
            .map(|_| ()),
    );
    not_found(
        properties::patch_target(
            db,
            b.tenant,
            a.target,
            "P1",
            &json!({"data": {"x": 1}}),
            &actor,
        )
        .await
        .map(|_| ()),
    );
    not_found(sources::delete(db, b.tenant, a.source).await);
    let run = sync_manager::service::runs::list(db, a.tenant, 1, None)
        .await
        .unwrap()[0]
        .id;
    not_found(
        snaps::rollback_run(db, b.tenant, sync_manager::ids::RunId(run), &actor)
            .await
            .map(|_| ()),
    );
    not_found(
        sync_manager::service::runs::get(db, b.tenant, sync_manager::ids::RunId(run))
            .await
            .map(|_| ()),
    );
    // A's data is unchanged.
    assert_eq!(target_data(db, &a, "P1").await, listing(1, 1));
    assert_eq!(sources::list(db, a.tenant).await.unwrap().len(), 1);
}

async fn api_keys_authenticate_revoke_rotate(db: &DatabaseConnection) {
    let admin = keys::ensure_admin_key(db)
        .await
        .unwrap()
        .expect("first admin key");
    assert!(
        keys::ensure_admin_key(db).await.unwrap().is_none(),
        "only once"
    );
    assert!(matches!(
        keys::authenticate(db, &admin.key).await.unwrap(),
        keys::Principal::Admin { .. }
    ));
    let (tenant, key) = tenants::create(db, "T", None).await.unwrap();
    assert!(key.key.starts_with("sm_") && key.key.len() >= 3 + 32);
    assert!(key.key.starts_with(&key.model.prefix));
    assert_ne!(key.model.key_hash, key.key, "only the hash is stored");
    let tenant = TenantId(tenant.id);
    assert_eq!(
        keys::authenticate(db, &key.key).await.unwrap(),
        keys::Principal::Tenant {
            tenant,
            prefix: key.model.prefix.clone()
        }
    );
    assert!(matches!(
        keys::authenticate(db, "sm_wrong_key_000000").await,
        Err(AppError::Unauthorized(_))
    ));
    let second = keys::create(db, tenant, "ci").await.unwrap();
    keys::revoke(db, tenant, sync_manager::ids::KeyId(second.model.id))
        .await
        .unwrap();
    assert!(matches!(
        keys::authenticate(db, &second.key).await,
        Err(AppError::Unauthorized(_))
    ));
    let rotated = keys::rotate(db, tenant, "new").await.unwrap();
    assert!(
        keys::authenticate(db, &key.key).await.is_err(),
        "old key revoked by rotation"
    );
    assert!(keys::authenticate(db, &rotated.key).await.is_ok());
    assert_eq!(keys::list(db, tenant).await.unwrap().len(), 3);
    assert!(tenants::create(db, "  ", None).await.is_err());
    assert!(tenants::create(db, "x", Some(0)).await.is_err());
}

async fn manual_source_entry(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let manual = sources::create(
        db,
        f.tenant,
        sources::NewSource {
            name: "office".into(),
            kind: "manual".into(),
            config: None,
        },
    )
    .await
    .unwrap();
    let m = SourceId(manual.id);
    let actor = Actor::cli();
    let p = properties::create_manual(
        db,
        f.tenant,
        m,
        &json!({"id": "M1", "title": "Flat"}),
        &actor,
    )
    .await
    .unwrap();
    assert_eq!(p.external_id, "M1");
    let dup = properties::create_manual(db, f.tenant, m, &json!({"id": "M1"}), &actor)
        .await
        .unwrap_err();
    assert!(matches!(dup, AppError::Conflict(_)));
    let bad = properties::create_manual(db, f.tenant, m, &json!({"title": "no id"}), &actor)
        .await
        .unwrap_err();
    assert!(matches!(bad, AppError::Invalid { .. }));
    let p = properties::patch_manual(
        db,
        f.tenant,
        m,
        "M1",
        &json!({"data": {"price": 5}}),
        &actor,
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&p.data).unwrap(),
        json!({"id": "M1", "title": "Flat", "price": 5})
    );
    properties::delete_manual(db, f.tenant, m, "M1", &actor)
        .await
        .unwrap();
    assert!(
        properties::get_source(db, f.tenant, m, "M1")
            .await
            .unwrap()
            .deleted_at
            .is_some()
    );
    // A non-manual source refuses manual entry.
    let err = properties::create_manual(db, f.tenant, f.source, &json!({"id": "X"}), &actor)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only sources of type manual"),
        "{err}"
    );
}

async fn source_and_target_validation(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    let err = sources::create(
        db,
        f.tenant,
        sources::NewSource {
            name: "x".into(),
            kind: "ftp".into(),
            config: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("json, scraped, manual, api"),
        "{err}"
    );
    let err = targets::create(
        db,
        f.tenant,
        targets::NewTarget {
            name: "x".into(),
            kind: "website".into(),
            config: Some(json!({"conflict_policy": "newest"})),
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("merge, keep_target, overwrite"),
        "{err}"
    );
    let err = sources::create(
        db,
        f.tenant,
        sources::NewSource {
            name: "x".into(),
            kind: "json".into(),
            config: Some(json!([])),
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("JSON object"), "{err}");
    let err = targets::update(
        db,
        f.tenant,
        f.target,
        targets::TargetUpdate {
            config: Some(json!({"delete_policy": "purge"})),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Invalid { .. }));
    let t = targets::update(
        db,
        f.tenant,
        f.target,
        targets::TargetUpdate {
            name: Some("Site".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(t.name, "Site");
    assert_eq!(sources::list(db, f.tenant).await.unwrap().len(), 1);
    let err = sources::create(
        db,
        TenantId(999_999),
        sources::NewSource {
            name: "x".into(),
            kind: "json".into(),
            config: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }));
}

async fn concurrent_syncs_of_one_pair_are_serialised(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (0..300).map(|i| listing(i, 1)).collect()).await;
    let actor = Actor::cli();
    let (a, b) = tokio::join!(
        sync::sync(
            db,
            f.tenant,
            f.source,
            f.target,
            SyncOptions::default(),
            &actor
        ),
        sync::sync(
            db,
            f.tenant,
            f.source,
            f.target,
            SyncOptions::default(),
            &actor
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut created = [a.stats.created, b.stats.created];
    created.sort();
    assert_eq!(
        created,
        [0, 300],
        "one sync created everything, the other saw it all"
    );
    assert_eq!(b.stats.unchanged + a.stats.unchanged, 300);
}

/// The `X-Total-Count` of an unfiltered list comes from counts the database's triggers keep
/// (migration 4); a filter that matches every live record (the empty prefix) counts the
/// records instead. Both must agree, and equal `source`/`target`, after every kind of write.
async fn assert_live(db: &DatabaseConnection, f: &Fixture, source: u64, target: u64, step: &str) {
    let kept = PropertyFilter::default();
    let counted = PropertyFilter {
        prefix: Some(String::new()),
        ..Default::default()
    };
    let s = |filter| properties::page(db, f.tenant, Owner::Source(f.source), filter);
    let (_, s_kept) = s(&kept).await.unwrap();
    let (_, s_counted) = s(&counted).await.unwrap();
    let t = |filter| properties::page(db, f.tenant, Owner::Target(f.target), filter);
    let (_, t_kept) = t(&kept).await.unwrap();
    let (_, t_counted) = t(&counted).await.unwrap();
    assert_eq!(
        [s_kept, s_counted, t_kept, t_counted],
        [source, source, target, target],
        "live totals (source kept/counted, target kept/counted) after {step}"
    );
}

async fn kept_live_counts_follow_every_write(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    // A second pair of the same tenant must not be counted with the first.
    let other = pair(db, f.tenant, json!({})).await;
    import(db, &other, vec![listing(9, 1)]).await;
    assert_live(db, &f, 0, 0, "creating them").await;
    import(db, &f, (1..=4).map(|i| listing(i, 1)).collect()).await;
    assert_live(db, &f, 4, 0, "an import").await;
    run_sync(db, &f).await;
    assert_live(db, &f, 4, 4, "a sync").await;
    import(db, &f, (1..=4).map(|i| listing(i, 2)).collect()).await;
    run_sync(db, &f).await;
    assert_live(db, &f, 4, 4, "updates").await;
    edit(db, &f, "P1", json!({"data": {"title": "Edited"}})).await;
    assert_live(db, &f, 4, 4, "a hand edit").await;
    let full = ImportOptions {
        mode: ImportMode::Full,
        force: true,
        ..Default::default()
    };
    let deleting = import_opts(db, &f, vec![listing(1, 2), listing(2, 2)], full)
        .await
        .unwrap();
    assert_live(db, &f, 2, 4, "a full import's soft deletes").await;
    run_sync(db, &f).await;
    assert_live(db, &f, 2, 2, "a sync's soft deletes").await;
    import(db, &f, vec![listing(3, 2), listing(5, 1)]).await;
    assert_live(db, &f, 4, 2, "reviving and creating").await;
    let reviving = run_sync(db, &f).await;
    assert_live(db, &f, 4, 4, "a reviving sync").await;
    snaps::rollback_run(db, f.tenant, reviving.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    assert_live(db, &f, 4, 2, "rolling a sync back").await;
    snaps::rollback_run(db, f.tenant, deleting.run_id.unwrap(), &Actor::cli())
        .await
        .unwrap();
    assert_live(db, &f, 5, 2, "rolling soft deletes back").await;
    run_sync(db, &f).await;
    assert_live(db, &f, 5, 5, "syncing again").await;
    let cleaned = cleanup::cleanup(db, f.tenant, Some(0), false, &Actor::cli())
        .await
        .unwrap();
    assert!(cleaned.snapshots > 0);
    assert_live(db, &f, 5, 5, "a cleanup").await;
    // The other pair kept its own counts, and deleting a target takes its count with it.
    let (_, s) = properties::page(
        db,
        f.tenant,
        Owner::Source(other.source),
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(s, 1);
    targets::delete(db, f.tenant, other.target).await.unwrap();
    sources::delete(db, f.tenant, other.source).await.unwrap();
    assert_live(db, &f, 5, 5, "deleting another source and target").await;
    // Manual entry counts too.
    let manual = sources::create(
        db,
        f.tenant,
        sources::NewSource {
            name: "office".into(),
            kind: "manual".into(),
            config: None,
        },
    )
    .await
    .unwrap();
    let m = SourceId(manual.id);
    properties::create_manual(db, f.tenant, m, &json!({"id": "M1"}), &Actor::cli())
        .await
        .unwrap();
    let (_, n) = properties::page(db, f.tenant, Owner::Source(m), &Default::default())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// List pages are read as one aggregated row (or row by row when a value holds the
/// separator); either way they show exactly the stored records, page after page.
async fn list_pages_show_the_stored_records(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, (1..=6).map(|i| listing(i, i * 10)).collect()).await;
    run_sync(db, &f).await;
    edit(db, &f, "P2", json!({"data": {"title": "Hand, \"quoted\""}})).await;
    let full = ImportOptions {
        mode: ImportMode::Full,
        force: true,
        ..Default::default()
    };
    import_opts(db, &f, (1..=4).map(|i| listing(i, 1)).collect(), full)
        .await
        .unwrap();
    run_sync(db, &f).await;
    let all = PropertyFilter {
        include_deleted: true,
        ..Default::default()
    };
    let all = &all;
    let check = |step: &'static str| async move {
        let sources: Vec<properties::ListedProperty> =
            properties::list_source(db, f.tenant, f.source, all)
                .await
                .unwrap()
                .into_iter()
                .map(Into::into)
                .collect();
        let targets: Vec<properties::ListedProperty> =
            properties::list_target(db, f.tenant, f.target, all)
                .await
                .unwrap()
                .into_iter()
                .map(Into::into)
                .collect();
        assert!(targets.iter().any(|t| t.deleted_at.is_some()));
        assert!(targets.iter().any(|t| t.has_manual_changes()));
        for limit in [1, 4, 1000] {
            let owners = [
                (Owner::Source(f.source), &sources),
                (Owner::Target(f.target), &targets),
            ];
            for (owner, stored) in owners {
                let mut pages = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let filter = PropertyFilter {
                        after: after.clone(),
                        limit,
                        ..all.clone()
                    };
                    let (page, total) = properties::page(db, f.tenant, owner, &filter)
                        .await
                        .unwrap();
                    assert_eq!(total, stored.len() as u64, "{step}");
                    after = page.last().map(|p| p.external_id.clone());
                    pages.extend(page);
                    if after.is_none() {
                        break;
                    }
                }
                assert_eq!(&pages, stored, "{step}, {owner:?}, pages of {limit}");
            }
        }
    };
    check("aggregated pages").await;
    // An external id holding the aggregation's separator: pages are read row by row.
    let mut odd = listing(0, 5);
    odd["id"] = json!("P\u{1e}odd");
    import(db, &f, vec![odd]).await;
    run_sync(db, &f).await;
    check("row by row").await;
}

/// Runs `sql`, which must fail as a broken reference (SQLSTATE 23503 / SQLite's FOREIGN KEY).
async fn refused(db: &DatabaseConnection, sql: &str) {
    let err = db
        .execute_unprepared(sql)
        .await
        .expect_err(&format!("accepted: {sql}"));
    assert!(
        matches!(
            err.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{sql}: {err}"
    );
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// What property rows refer to (tenant, owner, source record) holds whichever way a row is
/// written, and deleting the referenced rows deletes or clears the references: foreign keys on
/// SQLite, statement triggers on PostgreSQL (migration 5).
async fn references_are_kept_by_the_database(db: &DatabaseConnection) {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let a = fixture(db, json!({})).await;
    let b = fixture(db, json!({})).await;
    for f in [&a, &b] {
        import(db, f, vec![listing(1, 1), listing(2, 2)]).await;
        run_sync(db, f).await;
    }
    let (ta, sa, tga) = (a.tenant.0, a.source.0, a.target.0);
    let (tb, sb) = (b.tenant.0, b.source.0);
    let at = "'2026-01-01T00:00:00Z'";
    let source_row = |tenant: i64, source: i64| {
        format!(
            "INSERT INTO source_properties (tenant_id, source_id, external_id, data, hash, \
             created_at, updated_at) VALUES ({tenant}, {source}, 'X', '{{}}', 'h', {at}, {at})"
        )
    };
    let target_row = |tenant: i64, target: i64, source_property: i64| {
        format!(
            "INSERT INTO target_properties (tenant_id, target_id, external_id, \
             source_property_id, data, hash, created_at, updated_at) \
             VALUES ({tenant}, {target}, 'X', {source_property}, '{{}}', 'h', {at}, {at})"
        )
    };
    let p1 = scalar(
        db,
        &format!("SELECT id FROM source_properties WHERE source_id = {sa} AND external_id = 'P1'"),
    )
    .await;
    let p2 = scalar(
        db,
        &format!("SELECT id FROM source_properties WHERE source_id = {sa} AND external_id = 'P2'"),
    )
    .await;
    let before = counts(db).await;
    refused(db, &source_row(ta, 999_999)).await;
    refused(db, &source_row(999_999, sa)).await;
    refused(db, &target_row(ta, 999_999, p1)).await;
    refused(db, &target_row(ta, tga, 999_999)).await;
    refused(
        db,
        &format!("UPDATE source_properties SET source_id = 999999 WHERE id = {p1}"),
    )
    .await;
    if pg {
        // PostgreSQL also holds a property to its owner's tenant, and keys still.
        refused(db, &source_row(tb, sa)).await;
        refused(db, &target_row(tb, b.target.0, p1)).await;
        refused(
            db,
            &format!("UPDATE sources SET tenant_id = {tb} WHERE id = {sa}"),
        )
        .await;
        refused(
            db,
            &format!("UPDATE sources SET id = 999999 WHERE id = {sa}"),
        )
        .await;
        refused(
            db,
            &format!("UPDATE source_properties SET id = 999999 WHERE id = {p1}"),
        )
        .await;
        // Target records: a reference set by an update is checked too; owners, tenants and
        // ids stay; nothing is truncated.
        let other_tenants =
            format!("(SELECT min(id) FROM source_properties WHERE source_id = {sb})");
        for set in [
            "source_property_id = 999999".to_string(),
            format!("source_property_id = {other_tenants}"),
            format!("target_id = {}", b.target.0),
            format!("tenant_id = {tb}"),
            "id = id + 1000".to_string(),
        ] {
            let sql = format!("UPDATE target_properties SET {set} WHERE target_id = {tga}");
            refused(db, &sql).await;
        }
        for table in [
            "source_properties",
            "target_properties",
            "sources CASCADE",
            "tenants CASCADE",
        ] {
            refused(db, &format!("TRUNCATE {table}")).await;
        }
    }
    assert_eq!(counts(db).await, before, "a refused write wrote something");
    // A written row with good references is accepted; an update keeping them too, and one
    // setting another record of the tenant.
    db.execute_unprepared(&target_row(ta, tga, p1))
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE target_properties SET source_property_id = {p2} WHERE target_id = {tga} \
         AND external_id = 'X'"
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE target_properties SET hash = 'h2' WHERE target_id = {tga}"
    ))
    .await
    .unwrap();

    // Deleting a source record clears the target records' reference to it.
    db.execute_unprepared(&format!("DELETE FROM source_properties WHERE id = {p1}"))
        .await
        .unwrap();
    let referring = format!(
        "SELECT count(*) FROM target_properties WHERE target_id = {tga} \
         AND source_property_id IS NOT NULL"
    );
    assert_eq!(scalar(db, &referring).await, 2);
    // Deleting a source deletes its records and clears the rest of the references.
    sources::delete(db, a.tenant, a.source).await.unwrap();
    let of = |table: &str, column: &str, id: i64| {
        format!("SELECT count(*) FROM {table} WHERE {column} = {id}")
    };
    assert_eq!(
        scalar(db, &of("source_properties", "source_id", sa)).await,
        0
    );
    assert_eq!(scalar(db, &referring).await, 0);
    assert_eq!(
        scalar(db, &of("target_properties", "target_id", tga)).await,
        3
    );
    // Deleting a target deletes its records.
    targets::delete(db, a.tenant, a.target).await.unwrap();
    assert_eq!(
        scalar(db, &of("target_properties", "target_id", tga)).await,
        0
    );
    // Deleting a tenant deletes everything of it, and nothing of another.
    db.execute_unprepared(&format!("DELETE FROM tenants WHERE id = {tb}"))
        .await
        .unwrap();
    for table in ["source_properties", "target_properties"] {
        assert_eq!(scalar(db, &of(table, "tenant_id", tb)).await, 0, "{table}");
    }
    assert_eq!(
        scalar(db, &of("source_properties", "source_id", sb)).await,
        0
    );
    let c = fixture(db, json!({})).await;
    import(db, &c, vec![listing(1, 1)]).await;
    assert_eq!(run_sync(db, &c).await.stats.created, 1);
}

/// Migration 5 can be undone (PostgreSQL gets its foreign keys back) and applied again, with
/// data in the tables; references are refused either way.
async fn the_references_migration_goes_down_and_up_again(db: &DatabaseConnection) {
    use migration::{Migrator, MigratorTrait};
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 1), listing(2, 2)]).await;
    run_sync(db, &f).await;
    let orphan = format!(
        "INSERT INTO source_properties (tenant_id, source_id, external_id, data, hash, \
         created_at, updated_at) VALUES ({}, 999999, 'X', '{{}}', 'h', \
         '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        f.tenant.0
    );
    // PostgreSQL: the five foreign keys of the property tables go and come back.
    let keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN \
                ('source_properties'::regclass, 'target_properties'::regclass)";
    let pg = db.get_database_backend() == DbBackend::Postgres;
    if pg {
        assert_eq!(scalar(db, keys).await, 0);
    }
    // Down past the migrations that came after 5, and 5 itself.
    let after_5 = Migrator::migrations().len() as u32 - 5;
    Migrator::down(db, Some(after_5 + 1)).await.unwrap();
    refused(db, &orphan).await;
    if pg {
        assert_eq!(scalar(db, keys).await, 5);
        let cascades = "SELECT count(*) FROM pg_constraint WHERE contype = 'f' \
                        AND confdeltype = 'c' AND conrelid IN \
                        ('source_properties'::regclass, 'target_properties'::regclass)";
        assert_eq!(scalar(db, cascades).await, 4);
    }
    Migrator::up(db, None).await.unwrap();
    refused(db, &orphan).await;
    if pg {
        assert_eq!(scalar(db, keys).await, 0);
    }
    import(db, &f, vec![listing(1, 5), listing(3, 3)]).await;
    assert_eq!(run_sync(db, &f).await.stats.created, 1);
    sources::delete(db, f.tenant, f.source).await.unwrap();
    assert_eq!(
        scalar(db, "SELECT count(*) FROM source_properties").await,
        0,
        "the source's records went with it"
    );
}

/// PostgreSQL: deleting two sources of one tenant in concurrent transactions, both synced to
/// one target, neither waits for the other (clearing a reference locks nothing).
async fn two_sources_of_a_tenant_are_deleted_at_once(db: &DatabaseConnection) {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != DbBackend::Postgres {
        return; // SQLite has one writer at a time anyway.
    }
    let a = fixture(db, json!({})).await;
    let b = pair(db, a.tenant, json!({})).await;
    let b = Fixture {
        target: a.target,
        ..b
    };
    import(db, &a, vec![listing(1, 1)]).await;
    import(db, &b, vec![listing(2, 2)]).await;
    run_sync(db, &a).await;
    run_sync(db, &b).await;
    let first = db.begin().await.unwrap();
    let second = db.begin().await.unwrap();
    for (tx, source) in [(&first, a.source), (&second, b.source)] {
        let sql = format!("DELETE FROM sources WHERE id = {}", source.0);
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tx.execute_unprepared(&sql),
        )
        .await
        .expect("a delete waited for the other transaction")
        .unwrap();
    }
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let referring = format!(
        "SELECT count(*) FROM target_properties WHERE target_id = {} \
         AND source_property_id IS NOT NULL",
        a.target.0
    );
    assert_eq!(scalar(db, &referring).await, 0);
    assert_eq!(
        scalar(db, "SELECT count(*) FROM source_properties").await,
        0
    );
}

/// Records of one id in several write batches (SQLite writes 1,000 records a statement,
/// PostgreSQL 5,000): the last version is what the source holds, a new id is inserted once,
/// a stored row is snapshotted once. Before the planner's reference-model test found it, a new
/// id written in one batch and given twice in a later one failed the import on the unique key,
/// and a stored record changed in one batch and changed back in the next kept the first change.
async fn one_id_in_several_write_batches(db: &DatabaseConnection) {
    let f = fixture(db, json!({})).await;
    import(db, &f, vec![listing(1, 2)]).await;
    let filler = |from: u32| {
        (from..from + 5200)
            .map(|i| listing(i, 1))
            .collect::<Vec<_>>()
    };
    let mut records = vec![listing(1, 0), listing(9, 0)];
    records.extend(filler(100));
    records.extend([listing(1, 1), listing(9, 1), listing(1, 2), listing(9, 2)]);
    records.extend(filler(10_000));
    let out = import(db, &f, records).await;
    assert_eq!(
        (out.stats.unchanged, out.stats.updated),
        (1, 0),
        "P1 is back to what it was"
    );
    assert_eq!(out.stats.created, 1 + 2 * 5200);
    for (id, price) in [("P1", 2), ("P9", 2)] {
        let p = properties::get_source(db, f.tenant, f.source, id)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&p.data).unwrap()["price"],
            price,
            "{id}"
        );
    }
    let p1 = properties::get_source(db, f.tenant, f.source, "P1")
        .await
        .unwrap();
    let run = out.run_id.unwrap().0;
    let history = snaps::list_for_property(db, f.tenant, snaps::PropertyKind::Source, p1.id)
        .await
        .unwrap();
    let of_run = history.iter().filter(|s| s.run_id == Some(run)).count();
    assert_eq!(of_run, 1, "one snapshot of P1 by the import");
}
