//! Races between writers of the same record, on SQLite and (when enabled) PostgreSQL, each
//! side through its own connection pool (as two `serve` processes on one database would be):
//! a manual edit, a warning's resolution, a snapshot's restore during a sync, a manual
//! source edit during an import, and two manual edits of one record. Every round starts the second writer at a random moment of
//! the first one's run; whatever the interleaving, the outcome must be one that running them
//! one after the other would give (SPEC §4 "Concurrency"): no edit lost silently.
//!
//! `SYNC_MANAGER_RACE_ROUNDS` (default 12) sets the rounds per scenario; the seed is printed.
mod common;

use common::TestDb;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use sync_manager::config::DatabaseUrl;
use sync_manager::ids::{SnapshotId, SourceId, TargetId, TenantId};
use sync_manager::service::imports::{self, ImportInput, ImportOptions};
use sync_manager::service::snapshots::{self, PropertyKind};
use sync_manager::service::sync::{self, SyncOptions};
use sync_manager::service::warnings::{self, Resolution, WarningFilter};
use sync_manager::service::{Actor, properties, sources, targets, tenants};

/// Records per source: enough that a sync or an import takes a while in a debug build.
const RECORDS: u32 = 1500;

fn rounds() -> u32 {
    std::env::var("SYNC_MANAGER_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

/// A small deterministic generator (xorshift), seeded from the OS and printed, so that a
/// failing interleaving can be told apart from another.
struct Rng(u64);

impl Rng {
    fn new(label: &str) -> Self {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let seed = u64::from_le_bytes(bytes) | 1;
        eprintln!("{label}: seed {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 { 0 } else { self.0 % n }
    }
}

/// Two pools on one database.
struct Pair {
    _t: TestDb,
    a: DatabaseConnection,
    b: DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    target: TargetId,
}

async fn pair(backend: &str, source_kind: &str) -> Option<Pair> {
    let t = TestDb::new(backend).await?;
    let b = sync_manager::db::connect(&DatabaseUrl::parse(&t.url).unwrap())
        .await
        .unwrap();
    let a = t.db.clone();
    let (tenant, _) = tenants::create(&a, "Agency", None).await.unwrap();
    let tenant = TenantId(tenant.id);
    let source = sources::create(
        &a,
        tenant,
        sources::NewSource {
            name: "portal".into(),
            kind: source_kind.into(),
            config: None,
        },
    )
    .await
    .unwrap();
    let target = targets::create(
        &a,
        tenant,
        targets::NewTarget {
            name: "website".into(),
            kind: "website".into(),
            config: Some(json!({"conflict_policy": "merge"})),
        },
    )
    .await
    .unwrap();
    Some(Pair {
        _t: t,
        a,
        b,
        tenant,
        source: SourceId(source.id),
        target: TargetId(target.id),
    })
}

fn listing(i: u32, price: u32) -> Value {
    json!({
        "id": format!("P{i:05}"),
        "title": format!("Villa {i}"),
        "price": price,
        "location": {"city": "Madrid", "lat": 40.4},
    })
}

fn listings(price: u32) -> Vec<Value> {
    (0..RECORDS).map(|i| listing(i, price + i)).collect()
}

impl Pair {
    async fn import(&self, db: &DatabaseConnection, records: Vec<Value>) {
        imports::import(
            db,
            self.tenant,
            self.source,
            ImportInput::Records(records),
            ImportOptions::default(),
            &Actor::cli(),
            None,
        )
        .await
        .unwrap();
    }

    async fn sync(&self, db: &DatabaseConnection) -> Duration {
        let started = Instant::now();
        sync::sync(
            db,
            self.tenant,
            self.source,
            self.target,
            SyncOptions::default(),
            &Actor::cli(),
        )
        .await
        .unwrap();
        started.elapsed()
    }

    async fn patch(&self, db: &DatabaseConnection, id: &str, data: Value) {
        properties::patch_target(
            db,
            self.tenant,
            self.target,
            id,
            &json!({ "data": data }),
            &Actor::cli(),
        )
        .await
        .unwrap();
    }

    async fn target_data(&self, id: &str) -> (Value, bool, i64) {
        let p = properties::get_target(&self.a, self.tenant, self.target, id)
            .await
            .unwrap();
        let manual = properties::has_manual_changes(&p);
        (serde_json::from_str(&p.data).unwrap(), manual, p.id)
    }

    /// The data of every snapshot of a record.
    async fn snapshot_data(&self, kind: PropertyKind, property_id: i64) -> Vec<Value> {
        snapshots::list_for_property(&self.a, self.tenant, kind, property_id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| serde_json::from_str(&s.data).unwrap())
            .collect()
    }
}

/// Runs `first` and, after `offset`, `second`, at the same time.
async fn race<A, B>(first: A, offset: Duration, second: B)
where
    A: std::future::Future<Output = ()>,
    B: std::future::Future<Output = ()>,
{
    tokio::join!(first, async {
        tokio::time::sleep(offset).await;
        second.await
    });
}

/// A manual edit of a target record while a sync of changed source records runs: the edit
/// survives (merged with the source's new price) whichever commits first.
async fn patch_during_sync(backend: &str) {
    let Some(p) = pair(backend, "scraped").await else {
        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
        return;
    };
    let mut rng = Rng::new("patch during sync");
    p.import(&p.a, listings(1000)).await;
    let mut took = p.sync(&p.a).await;
    let n = rounds();
    for round in 0..n {
        let price = 2000 + round * 10_000;
        p.import(&p.a, listings(price)).await;
        let k = rng.below(RECORDS as u64) as u32;
        let id = format!("P{k:05}");
        let title = format!("manual edit {round}");
        let offset = Duration::from_micros(rng.below(took.as_micros() as u64 * 6 / 5 + 1));
        let sync_took = std::sync::Mutex::new(took);
        race(
            async {
                *sync_took.lock().unwrap() = p.sync(&p.a).await;
            },
            offset,
            p.patch(&p.b, &id, json!({ "title": title })),
        )
        .await;
        took = sync_took.into_inner().unwrap();
        let (data, manual, _) = p.target_data(&id).await;
        assert_eq!(
            data["title"], title,
            "round {round} (edit {offset:?} into a sync of {took:?}): the manual edit of {id} \
             was lost: {data}"
        );
        assert_eq!(
            data["price"],
            price + k,
            "round {round}: the sync's new price of {id} was lost: {data}"
        );
        assert!(manual, "round {round}: {id} is no longer marked as edited");
    }
    eprintln!("race rounds: {n} patch-during-sync ({backend})");
}

/// A conflict resolved (`take_source`) while a sync of a new price runs: the record ends
/// with the source's title (the person's choice) and the new price (the sync's change).
async fn resolve_during_sync(backend: &str) {
    let Some(p) = pair(backend, "scraped").await else {
        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
        return;
    };
    let mut rng = Rng::new("resolve during sync");
    p.import(&p.a, listings(1000)).await;
    let mut took = p.sync(&p.a).await;
    let n = rounds();
    for round in 0..n {
        let k = rng.below(RECORDS as u64) as u32;
        let id = format!("P{k:05}");
        // A conflict on the title: edited on the website, changed in the source.
        p.patch(
            &p.a,
            &id,
            json!({"title": format!("website title {round}")}),
        )
        .await;
        let mut records = listings(1000 + round * 10_000);
        let source_title = format!("portal title {round}");
        records[k as usize]["title"] = json!(source_title);
        p.import(&p.a, records.clone()).await;
        p.sync(&p.a).await;
        let open = warnings::list(
            &p.a,
            p.tenant,
            &WarningFilter {
                status: Some("open".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let warning = open
            .iter()
            .find(|w| w.external_id.as_deref() == Some(id.as_str()))
            .expect("a conflict warning");
        let warning_id = sync_manager::ids::WarningId(warning.id);
        // Now every price changes, and the resolution races the sync that brings them.
        let price = 5000 + round * 10_000;
        for (i, r) in records.iter_mut().enumerate() {
            r["price"] = json!(price + i as u32);
        }
        p.import(&p.a, records).await;
        let offset = Duration::from_micros(rng.below(took.as_micros() as u64 * 6 / 5 + 1));
        let sync_took = std::sync::Mutex::new(took);
        race(
            async {
                *sync_took.lock().unwrap() = p.sync(&p.a).await;
            },
            offset,
            async {
                warnings::resolve(
                    &p.b,
                    p.tenant,
                    warning_id,
                    Resolution::TakeSource,
                    &Actor::cli(),
                )
                .await
                .unwrap();
            },
        )
        .await;
        took = sync_took.into_inner().unwrap();
        let (data, _, _) = p.target_data(&id).await;
        assert_eq!(
            data["title"], source_title,
            "round {round} (resolve {offset:?} into a sync of {took:?}): the choice of the \
             source's title for {id} was lost: {data}"
        );
        assert_eq!(
            data["price"],
            price + k,
            "round {round}: the sync's new price of {id} was lost: {data}"
        );
    }
    eprintln!("race rounds: {n} resolve-during-sync ({backend})");
}

/// A snapshot restored while a sync of new prices runs: the restored title stays (merged with
/// the price, or restored after it), and the version it replaced is in the snapshots.
async fn restore_during_sync(backend: &str) {
    let Some(p) = pair(backend, "scraped").await else {
        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
        return;
    };
    let mut rng = Rng::new("restore during sync");
    p.import(&p.a, listings(1000)).await;
    let mut took = p.sync(&p.a).await;
    let n = rounds();
    for round in 0..n {
        let k = rng.below(RECORDS as u64) as u32;
        let id = format!("P{k:05}");
        let wanted = format!("restored title {round}");
        let replaced = format!("replaced title {round}");
        p.patch(&p.a, &id, json!({ "title": wanted })).await;
        p.patch(&p.a, &id, json!({ "title": replaced })).await;
        let (_, _, property_id) = p.target_data(&id).await;
        let snapshot =
            snapshots::list_for_property(&p.a, p.tenant, PropertyKind::Target, property_id)
                .await
                .unwrap()
                .into_iter()
                .find(|s| serde_json::from_str::<Value>(&s.data).unwrap()["title"] == json!(wanted))
                .expect("the snapshot of the first edit");
        p.import(&p.a, listings(3000 + round * 10_000)).await;
        let offset = Duration::from_micros(rng.below(took.as_micros() as u64 * 6 / 5 + 1));
        let sync_took = std::sync::Mutex::new(took);
        race(
            async {
                *sync_took.lock().unwrap() = p.sync(&p.a).await;
            },
            offset,
            async {
                snapshots::restore(&p.b, p.tenant, SnapshotId(snapshot.id), &Actor::cli())
                    .await
                    .unwrap();
            },
        )
        .await;
        took = sync_took.into_inner().unwrap();
        let (data, _, _) = p.target_data(&id).await;
        assert_eq!(
            data["title"], wanted,
            "round {round} (restore {offset:?} into a sync of {took:?}): the restored \
             version of {id} was lost: {data}"
        );
        let history = p.snapshot_data(PropertyKind::Target, property_id).await;
        assert!(
            history.iter().any(|d| d["title"] == json!(replaced)),
            "round {round}: the version the restore replaced is not among the snapshots of {id}"
        );
    }
    eprintln!("race rounds: {n} restore-during-sync ({backend})");
}

/// A record of a `manual` source edited by hand while an import into that source runs: the
/// edited version is either the current one (the edit came last) or among the snapshots (the
/// import, which is authoritative for a source, replaced it after snapshotting it).
async fn manual_source_edit_during_import(backend: &str) {
    let Some(p) = pair(backend, "manual").await else {
        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
        return;
    };
    let mut rng = Rng::new("manual source edit during import");
    let started = Instant::now();
    p.import(&p.a, listings(1000)).await;
    let mut took = started.elapsed();
    let n = rounds();
    for round in 0..n {
        let k = rng.below(RECORDS as u64) as u32;
        let id = format!("P{k:05}");
        let title = format!("typed by hand {round}");
        let records = listings(2000 + round * 10_000);
        let offset = Duration::from_micros(rng.below(took.as_micros() as u64 * 6 / 5 + 1));
        let import_took = std::sync::Mutex::new(took);
        race(
            async {
                let started = Instant::now();
                p.import(&p.a, records).await;
                *import_took.lock().unwrap() = started.elapsed();
            },
            offset,
            async {
                properties::patch_manual(
                    &p.b,
                    p.tenant,
                    p.source,
                    &id,
                    &json!({"data": {"title": title}}),
                    &Actor::cli(),
                )
                .await
                .unwrap();
            },
        )
        .await;
        took = import_took.into_inner().unwrap();
        let prop = properties::get_source(&p.a, p.tenant, p.source, &id)
            .await
            .unwrap();
        let data: Value = serde_json::from_str(&prop.data).unwrap();
        if data["title"] != json!(title) {
            let history = p.snapshot_data(PropertyKind::Source, prop.id).await;
            assert!(
                history.iter().any(|d| d["title"] == json!(title)),
                "round {round} (edit {offset:?} into an import of {took:?}): the manual edit \
                 of {id} is neither its data ({data}) nor among its snapshots"
            );
        }
    }
    eprintln!("race rounds: {n} manual-source-edit-during-import ({backend})");
}

/// Two manual edits of different fields of one record at the same time: both stay.
async fn two_edits_of_one_record(backend: &str) {
    let Some(p) = pair(backend, "scraped").await else {
        eprintln!("skipped: SYNC_MANAGER_TEST_PG is not set");
        return;
    };
    let mut rng = Rng::new("two edits of one record");
    p.import(&p.a, listings(1000)).await;
    p.sync(&p.a).await;
    let n = rounds() * 4;
    for round in 0..n {
        let id = format!("P{:05}", rng.below(RECORDS as u64));
        let (title, note) = (format!("title {round}"), format!("note {round}"));
        let offset = Duration::from_micros(rng.below(3000));
        race(
            p.patch(&p.a, &id, json!({ "title": title })),
            offset,
            p.patch(&p.b, &id, json!({ "note": note })),
        )
        .await;
        let (data, _, _) = p.target_data(&id).await;
        assert!(
            data["title"] == json!(title) && data["note"] == json!(note),
            "round {round}: one of two simultaneous edits of {id} was lost: {data}"
        );
    }
    eprintln!("race rounds: {n} two-edits-of-one-record ({backend})");
}

macro_rules! race_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name("sqlite").await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(pg_tests), ignore = "SYNC_MANAGER_TEST_PG is not set")]
                async fn $name() {
                    super::$name("postgres").await;
                }
            )*
        }
    };
}

race_tests!(
    patch_during_sync,
    resolve_during_sync,
    restore_during_sync,
    manual_source_edit_during_import,
    two_edits_of_one_record,
);
