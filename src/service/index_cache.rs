//! The import indexes of recently imported sources, kept by a long-running process (the
//! server) so that the next import of a source need not read its records again: reading the
//! ids, hashes and raw hashes of 100,000 records is most of an unchanged re-import's time.
//!
//! An index is kept together with the source's *stamp*: its creation time and its list state
//! (live count and version, kept by the database's triggers, so a write by any path or process
//! moves it; see `properties::list_state`). An import reads the stamp inside its transaction,
//! after it holds the source's exclusive lock, and takes a kept index only when the stamp is
//! the same: no writer can have changed the records since the index was kept. After it commits,
//! the import keeps what the source now holds (the index it read, with its own writes applied),
//! stamped with the state read just before its commit, while it still held the lock (made on
//! a blocking thread after the import has answered; the next import of the source waits for
//! it, and one that gets the lock before it is registered reads the database). A stamp
//! never comes back once it has moved, so a kept index is either exactly the source's records
//! or never used.
use super::properties::{ListState, list_state};
use crate::domain::import_index::{Index, KnownRaw, Stored, Written};
use crate::domain::import_plan::Planner;
use crate::entity::sources;
use crate::error::AppResult;
use crate::ids::{Owner, SourceId, TenantId};
use crate::ingest::item::Known;
use crate::store::source_rows::SourceWriter;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Default bytes of kept indexes: the sources imported last, up to about 250,000 records, of
/// which one source may have up to 160,000 (`import_index::KEEP_BYTES_PER_RECORD`).
pub const DEFAULT_BYTES: usize = crate::config::DEFAULT_INDEX_CACHE_MB << 20;

/// Where a source's records stand (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    created_at: chrono::DateTime<chrono::Utc>,
    state: ListState,
}

impl Stamp {
    /// The stamp of `source`, read on `conn` (the import's transaction).
    pub(crate) async fn read(
        conn: &impl ConnectionTrait,
        tenant: TenantId,
        source: &sources::Model,
    ) -> AppResult<Stamp> {
        let state = list_state(conn, tenant, Owner::Source(SourceId(source.id))).await?;
        Ok(Stamp {
            created_at: source.created_at,
            state,
        })
    }
}

struct Kept {
    stamp: Stamp,
    stored: Arc<Stored>,
    /// When it was last put or taken (a counter), for evicting the least recently used.
    used: u64,
}

/// Kept import indexes, at most `budget` bytes of them.
pub struct IndexCache {
    budget: usize,
    kept: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_source: HashMap<SourceId, Kept>,
    /// The sources whose index an import that has answered is still making (`keep_later`),
    /// each with a lock the making holds until the index is kept.
    making: HashMap<SourceId, Arc<tokio::sync::Mutex<()>>>,
    clock: u64,
    /// Imports that took a kept index.
    hits: u64,
}

impl Default for IndexCache {
    fn default() -> Self {
        IndexCache::new(DEFAULT_BYTES)
    }
}

impl IndexCache {
    /// A cache of at most `budget` bytes (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        IndexCache {
            budget,
            kept: Mutex::default(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an index of about `records` records may be kept.
    pub(crate) fn may_keep(&self, records: usize) -> bool {
        self.budget > 0
            && records.saturating_mul(crate::domain::import_index::KEEP_BYTES_PER_RECORD)
                <= self.budget
    }

    /// The index kept for `source` if it was kept at `stamp`; an index kept at another stamp is
    /// dropped (it will never be used again).
    pub(crate) fn get(&self, source: SourceId, stamp: &Stamp) -> Option<Arc<Stored>> {
        let mut inner = self.inner();
        inner.clock += 1;
        let clock = inner.clock;
        match inner.by_source.get_mut(&source) {
            Some(kept) if kept.stamp == *stamp => {
                kept.used = clock;
                let stored = kept.stored.clone();
                inner.hits += 1;
                Some(stored)
            }
            Some(_) => {
                inner.by_source.remove(&source);
                None
            }
            None => None,
        }
    }

    /// Keeps `stored` as what `source` holds at `stamp`, dropping the least recently used
    /// indexes while the kept ones are over the budget.
    pub(crate) fn put(&self, source: SourceId, stamp: Stamp, stored: Stored) {
        let mut inner = self.inner();
        inner.by_source.remove(&source);
        let size = stored.bytes();
        if size > self.budget {
            return;
        }
        let mut total: usize = inner.by_source.values().map(|k| k.stored.bytes()).sum();
        while total + size > self.budget {
            let Some((&oldest, _)) = inner.by_source.iter().min_by_key(|(_, k)| k.used) else {
                break;
            };
            if let Some(gone) = inner.by_source.remove(&oldest) {
                total -= gone.stored.bytes();
            }
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.by_source.insert(
            source,
            Kept {
                stamp,
                stored: Arc::new(stored),
                used,
            },
        );
    }

    /// Makes what `source` holds at `stamp` with `make` on a blocking thread and keeps it (or
    /// forgets the source's index when `make` gives none), so that the import which wrote it
    /// answers without waiting; the next import of the source waits for it (`settle`).
    pub(crate) fn keep_later(
        self: &Arc<Self>,
        source: SourceId,
        stamp: Stamp,
        make: impl FnOnce() -> Option<Stored> + Send + 'static,
    ) {
        let gate = Arc::new(tokio::sync::Mutex::new(()));
        let held = gate.clone().try_lock_owned().expect("a new lock is free");
        self.inner().making.insert(source, gate.clone());
        let cache = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            match make() {
                Some(stored) => cache.put(source, stamp, stored),
                None => cache.forget(source),
            }
            let mut inner = cache.inner();
            if inner
                .making
                .get(&source)
                .is_some_and(|g| Arc::ptr_eq(g, &gate))
            {
                inner.making.remove(&source);
            }
            drop(inner);
            drop(held);
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                kept = cache.records(),
                "import: index kept"
            );
        });
    }

    /// Waits until no index of `source` is being made (an import calls it before `get`).
    pub(crate) async fn settle(&self, source: SourceId) {
        let gate = self.inner().making.get(&source).cloned();
        if let Some(gate) = gate {
            drop(gate.lock().await);
        }
    }

    /// Waits until no index is being made (for tests: what an import keeps is kept once
    /// this returns).
    pub async fn settled(&self) {
        let gates: Vec<_> = self.inner().making.values().cloned().collect();
        for gate in gates {
            drop(gate.lock().await);
        }
    }

    /// Forgets what is kept for `source`.
    pub(crate) fn forget(&self, source: SourceId) {
        self.inner().by_source.remove(&source);
    }

    /// How many imports took a kept index.
    pub fn hits(&self) -> u64 {
        self.inner().hits
    }

    /// Records in the kept indexes (for tests and logs).
    pub fn records(&self) -> usize {
        self.inner()
            .by_source
            .values()
            .map(|k| k.stored.len())
            .sum()
    }
}

/// The index of `source` for an import that holds its lock (`tx`): the one kept in `indexes`
/// if the source's stamp says it is still what the source holds, else read by `writer`; what
/// the parser may know of it; and whether it was kept.
pub(super) async fn load(
    indexes: Option<&Arc<IndexCache>>,
    tx: &DatabaseTransaction,
    tenant: TenantId,
    source: &sources::Model,
    writer: &SourceWriter<'_>,
) -> AppResult<(Index, Known, bool)> {
    let source_id = SourceId(source.id);
    let stamp = match indexes {
        Some(indexes) => {
            indexes.settle(source_id).await;
            Some(Stamp::read(tx, tenant, source).await?)
        }
        None => None,
    };
    let kept = indexes
        .zip(stamp.as_ref())
        .and_then(|(indexes, stamp)| indexes.get(source_id, stamp));
    let hit = kept.is_some();
    let mut index = Index::default();
    let known = match &kept {
        Some(stored) => {
            index = Index::from_stored(stored);
            Known {
                raw: stored.raw.clone(),
                ids: stored.ids.clone(),
            }
        }
        None => {
            let raw = writer.load_index(&mut index).await?;
            Known {
                raw: Arc::new(raw),
                ids: index.freeze(),
            }
        }
    };
    Ok((index, known, hit))
}

/// What an import leaves to keep: the source's stamp once it commits (read while its lock is
/// still held), what it wrote and its index; `None` when it noted nothing to keep.
pub(super) async fn after(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    source: &sources::Model,
    planner: &mut Planner,
) -> AppResult<Option<(Stamp, Written, Index)>> {
    let Some(written) = planner.take_written() else {
        return Ok(None);
    };
    Ok(Some((
        Stamp::read(tx, tenant, source).await?,
        written,
        planner.take_index(),
    )))
}

impl IndexCache {
    /// Keeps the index an import leaves (`after`), made on a blocking thread after the answer.
    pub(super) fn keep_after(
        self: &Arc<Self>,
        source: SourceId,
        after: (Stamp, Written, Index),
        raw_before: Arc<KnownRaw>,
    ) {
        let (stamp, written, index) = after;
        self.keep_later(source, stamp, move || index.after(&raw_before, &written));
    }
}
