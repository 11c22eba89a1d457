//! The server keeps a source's import index between imports (`service::index_cache`). An
//! import that takes a kept index must decide exactly as one that reads the source's records,
//! whatever wrote to them in between: manual entry, edits and deletes, restores, rollbacks,
//! failed and dry-run imports. Two sources get the same operations, one imported with the
//! cache and one without; after every step their outcomes and records must be the same.
mod common;

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use std::sync::Arc;
use sync_manager::AppError;
use sync_manager::ids::{RunId, SourceId, TenantId};
use sync_manager::ingest::json_stream::Shape;
use sync_manager::service::imports::{self, ImportInput, ImportMode, ImportOptions, ImportOutcome};
use sync_manager::service::index_cache::IndexCache;
use sync_manager::service::properties::{self, PropertyFilter};
use sync_manager::service::{Actor, snapshots, sources, tenants};

backend_tests!(
    a_kept_index_decides_as_a_read_one,
    a_kept_index_stays_within_its_budget,
    a_kept_index_of_several_batches_names_each_row
);

/// A small deterministic generator (the same rounds on every run).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn manual_source(db: &DatabaseConnection, tenant: TenantId, name: &str) -> SourceId {
    let source = sources::create(
        db,
        tenant,
        sources::NewSource {
            name: name.into(),
            kind: "manual".into(),
            config: None,
        },
    )
    .await
    .unwrap();
    SourceId(source.id)
}

/// A new tenant with two manual sources named `names`.
async fn tenant_with_two_sources(
    db: &DatabaseConnection,
    names: [&str; 2],
) -> (TenantId, SourceId, SourceId) {
    let (tenant, _) = tenants::create(db, "Agency", None).await.unwrap();
    let tenant = TenantId(tenant.id);
    let first = manual_source(db, tenant, names[0]).await;
    let second = manual_source(db, tenant, names[1]).await;
    (tenant, first, second)
}

type Outcome = Result<ImportOutcome, AppError>;

/// The same import into `kept` through `cache` and into `read` reading its index.
async fn import_twins(
    db: &DatabaseConnection,
    cache: &Arc<IndexCache>,
    tenant: TenantId,
    (kept, read): (SourceId, SourceId),
    bytes: &[u8],
    opts: ImportOptions,
) -> (Outcome, Outcome) {
    let actor = Actor::cli();
    let a = imports::import_keeping_index(db, cache, tenant, kept, body(bytes), opts, &actor, None)
        .await;
    let b = imports::import(db, tenant, read, body(bytes), opts, &actor, None).await;
    (a, b)
}

fn body(bytes: &[u8]) -> ImportInput {
    ImportInput::Body(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        Shape::ArrayOrObject,
    )
}

/// What an operation answered, without what differs between the two sources (ids).
fn answer(out: &Result<ImportOutcome, AppError>) -> String {
    match out {
        Ok(out) => format!(
            "{:?} {:?} dry {}",
            out.stats,
            out.errors
                .iter()
                .map(|e| (e.index, e.external_id.clone(), e.reason.clone()))
                .collect::<Vec<_>>(),
            out.dry_run
        ),
        Err(e) => format!("error {:?}", std::mem::discriminant(e)),
    }
}

fn outcome<T>(out: &Result<T, AppError>) -> String {
    match out {
        Ok(_) => "ok".into(),
        Err(e) => format!("error {:?}", std::mem::discriminant(e)),
    }
}

/// Every record of `source`, deleted ones included, as the import sees them.
async fn records(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
) -> Vec<(String, String, String, bool, Option<String>)> {
    let filter = PropertyFilter {
        include_deleted: true,
        ..Default::default()
    };
    let mut rows: Vec<_> = properties::list_source(db, tenant, source, &filter)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            (
                p.external_id,
                p.data,
                p.hash,
                p.deleted_at.is_some(),
                p.raw_hash,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// An import body of up to 30 records of ids P0..P39 with one of three prices; sometimes an
/// invalid record or the same id twice.
fn import_body(rng: &mut Rng) -> Vec<u8> {
    let mut list: Vec<Value> = (0..rng.below(30))
        .map(|_| {
            let i = rng.below(40);
            json!({"id": format!("P{i}"), "title": format!("Flat {i}"), "price": rng.below(3)})
        })
        .collect();
    if rng.below(6) == 0 {
        list.push(json!({"title": "no id"}));
    }
    serde_json::to_vec(&list).unwrap()
}

async fn a_kept_index_decides_as_a_read_one(db: &DatabaseConnection) {
    let (tenant, kept, read) = tenant_with_two_sources(db, ["kept", "read"]).await;
    let cache = Arc::new(IndexCache::default());
    let actor = Actor::cli();
    let mut rng = Rng(7);
    let mut last_runs: Option<(RunId, RunId)> = None;
    // The body of an earlier import, sent again byte for byte (the unparsed fast path).
    let mut earlier: Vec<Vec<u8>> = Vec::new();
    for round in 0..120 {
        let step;
        let (a, b) = match rng.below(12) {
            0..=6 => {
                let bytes = if !earlier.is_empty() && rng.below(3) == 0 {
                    earlier[rng.below(earlier.len() as u64) as usize].clone()
                } else {
                    import_body(&mut rng)
                };
                earlier.push(bytes.clone());
                let opts = ImportOptions {
                    mode: if rng.below(4) == 0 {
                        ImportMode::Full
                    } else {
                        ImportMode::Upsert
                    },
                    force: true,
                    strict: rng.below(8) == 0,
                    dry_run: rng.below(8) == 0,
                };
                step = format!("import {opts:?} {}", String::from_utf8_lossy(&bytes));
                let (a, b) = import_twins(db, &cache, tenant, (kept, read), &bytes, opts).await;
                if let (Ok(a), Ok(b)) = (&a, &b)
                    && let (Some(ra), Some(rb)) = (a.run_id, b.run_id)
                {
                    last_runs = Some((ra, rb));
                }
                (answer(&a), answer(&b))
            }
            7 => {
                let id = format!("P{}", rng.below(40));
                let patch = json!({"data": {"price": rng.below(3), "note": round}});
                step = format!("patch {id} {patch}");
                let a = properties::patch_manual(db, tenant, kept, &id, &patch, &actor).await;
                let b = properties::patch_manual(db, tenant, read, &id, &patch, &actor).await;
                (outcome(&a), outcome(&b))
            }
            8 => {
                let id = format!("P{}", rng.below(40));
                step = format!("delete {id}");
                let a = properties::delete_manual(db, tenant, kept, &id, &actor).await;
                let b = properties::delete_manual(db, tenant, read, &id, &actor).await;
                (outcome(&a), outcome(&b))
            }
            9 => {
                let record = json!({"id": format!("P{}", rng.below(40)), "title": "typed in"});
                step = format!("create {record}");
                let a = properties::create_manual(db, tenant, kept, &record, &actor).await;
                let b = properties::create_manual(db, tenant, read, &record, &actor).await;
                (outcome(&a), outcome(&b))
            }
            10 => {
                let id = format!("P{}", rng.below(40));
                step = format!("restore the latest snapshot of {id}");
                let mut answers = Vec::new();
                for source in [kept, read] {
                    let restored = match properties::get_source(db, tenant, source, &id).await {
                        Ok(p) => {
                            let kind = snapshots::PropertyKind::Source;
                            let history = snapshots::list_for_property(db, tenant, kind, p.id)
                                .await
                                .unwrap();
                            match history.first() {
                                Some(s) => outcome(
                                    &snapshots::restore(
                                        db,
                                        tenant,
                                        sync_manager::ids::SnapshotId(s.id),
                                        &actor,
                                    )
                                    .await,
                                ),
                                None => "no snapshot".into(),
                            }
                        }
                        Err(e) => outcome::<()>(&Err(e)),
                    };
                    answers.push(restored);
                }
                (answers[0].clone(), answers[1].clone())
            }
            _ => {
                step = "roll back the last import".into();
                match last_runs.take() {
                    Some((ra, rb)) => (
                        outcome(&snapshots::rollback_run(db, tenant, ra, &actor).await),
                        outcome(&snapshots::rollback_run(db, tenant, rb, &actor).await),
                    ),
                    None => continue,
                }
            }
        };
        assert_eq!(a, b, "round {round}: {step}");
        assert_eq!(
            records(db, tenant, kept).await,
            records(db, tenant, read).await,
            "round {round}: {step}"
        );
    }
    assert!(
        cache.hits() >= 30,
        "most imports should take the kept index; {} did",
        cache.hits()
    );
}

async fn a_kept_index_stays_within_its_budget(db: &DatabaseConnection) {
    let (tenant, one, two) = tenant_with_two_sources(db, ["one", "two"]).await;
    let actor = Actor::cli();
    // Ids of about 80 bytes: one source's index fits in 200 × 210 bytes, two do not.
    let listings = |n: u32| {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("listing-{i:04}-{}", "x".repeat(66)), "price": i}))
            .collect();
        serde_json::to_vec(&list).unwrap()
    };
    let import = async |cache: &Arc<IndexCache>, source, bytes: &[u8]| {
        let outcome = imports::import_keeping_index(
            db,
            cache,
            tenant,
            source,
            body(bytes),
            ImportOptions::default(),
            &actor,
            None,
        )
        .await
        .unwrap();
        // What the import keeps is made after it answers.
        cache.settled().await;
        outcome
    };
    // Too small for anything: every import reads the records, and decides right.
    let none = Arc::new(IndexCache::new(1000));
    let first = import(&none, one, &listings(200)).await;
    assert_eq!(first.stats.created, 200);
    let again = import(&none, one, &listings(200)).await;
    assert_eq!(again.stats.unchanged, 200);
    assert_eq!((none.records(), none.hits()), (0, 0));

    // Room for one source's index: the one imported last is kept.
    let room = Arc::new(IndexCache::new(200 * 210));
    import(&room, one, &listings(200)).await;
    assert_eq!(room.records(), 200);
    import(&room, two, &listings(200)).await;
    assert_eq!(
        room.records(),
        200,
        "the least recently used index made room"
    );
    let again = import(&room, two, &listings(200)).await;
    assert_eq!((again.stats.unchanged, room.hits()), (200, 1));
    let back = import(&room, one, &listings(200)).await;
    assert_eq!(
        (back.stats.unchanged, room.hits()),
        (200, 1),
        "one was dropped"
    );
    let once_more = import(&room, one, &listings(200)).await;
    assert_eq!(
        (once_more.stats.unchanged, room.hits()),
        (200, 2),
        "one is kept now"
    );
}

/// A new import of several write batches (new rows get their ids from the import on SQLite,
/// counted on from one read): the kept index then names each record's row, so the next import
/// snapshots the right rows, as an import that reads the index does.
async fn a_kept_index_of_several_batches_names_each_row(db: &DatabaseConnection) {
    let (tenant, kept, read) = tenant_with_two_sources(db, ["kept", "read"]).await;
    let cache = Arc::new(IndexCache::default());
    let listings = |bump: u32| {
        let list: Vec<Value> = (0..2_500u32)
            .map(|i| json!({"id": format!("L{i}"), "price": i + if i % 3 == 0 { bump } else { 0 }}))
            .collect();
        serde_json::to_vec(&list).unwrap()
    };
    for (round, bytes) in [listings(0), listings(1)].iter().enumerate() {
        let opts = ImportOptions::default();
        let (a, b) = import_twins(db, &cache, tenant, (kept, read), bytes, opts).await;
        assert_eq!(answer(&a), answer(&b), "import {round}");
    }
    assert_eq!(cache.hits(), 1, "the second import took the kept index");
    assert_eq!(
        records(db, tenant, kept).await,
        records(db, tenant, read).await
    );
    let kind = snapshots::PropertyKind::Source;
    for i in (0..2_500).step_by(3) {
        let id = format!("L{i}");
        let mut history = Vec::new();
        for source in [kept, read] {
            let p = properties::get_source(db, tenant, source, &id)
                .await
                .unwrap();
            let list = snapshots::list_for_property(db, tenant, kind, p.id)
                .await
                .unwrap();
            history.push(list.into_iter().map(|s| s.data).collect::<Vec<_>>());
        }
        assert_eq!(history[0], history[1], "snapshots of {id}");
        assert_eq!(history[0].len(), 1, "{id} changed once");
    }
}
