//! Import: records into a source. Streams the input (a JSON array read element by element on a
//! parser thread, pipelined with the database writer), compares hashes against the existing
//! records read in one query, and writes in multi-row batches inside one transaction.
use super::json_stream::{self, Flow, StreamError};
use super::runs::{self, RunKind};
use super::snapshots::{PropertyKind, snapshot_ids};
use super::sql::{CHUNK, Sql};
use super::{Actor, now};
use crate::domain::canonical::Canonical;
use crate::domain::identity::extract_external_id;
use crate::domain::stats::{ImportStats, RecordError};
use crate::entity::warnings;
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, SourceId, TenantId};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Set,
};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// `upsert` leaves records absent from the batch alone; `full` soft-deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    #[default]
    Upsert,
    Full,
}

impl std::str::FromStr for ImportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upsert" => Ok(ImportMode::Upsert),
            "full" => Ok(ImportMode::Full),
            other => Err(format!(
                "unknown import mode {other:?}; expected upsert or full"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Reject the whole batch if any record is invalid.
    pub strict: bool,
    /// Compute the stats, write nothing.
    pub dry_run: bool,
    /// Let a `full` import delete more than the source's `max_delete_fraction`.
    pub force: bool,
}

/// Where the records come from.
pub enum ImportInput {
    /// A JSON array, streamed (a file, stdin, a request body).
    Reader(Box<dyn Read + Send>),
    /// Records already in memory.
    Records(Vec<Value>),
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    pub records: u64,
    pub bytes: u64,
}

pub type ProgressFn = Arc<dyn Fn(ImportProgress) + Send + Sync>;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportOutcome {
    /// The run recorded; `None` for a dry run.
    pub run_id: Option<RunId>,
    pub stats: ImportStats,
    /// Rejected records and records superseded by a later one with the same id.
    pub errors: Vec<RecordError>,
    pub dry_run: bool,
}

/// How many parsed records travel between the parser and the writer at once.
const PARSE_CHUNK: usize = 1000;
/// Rows per multi-row upsert statement.
const WRITE_ROWS: usize = 1000;

/// A record ready to be written.
struct Parsed {
    index: u64,
    external_id: String,
    text: String,
    hash: [u8; 32],
}

enum Item {
    Ok(Parsed),
    Rejected(RecordError),
}

enum Message {
    Chunk(Vec<Item>),
    /// The input is not a JSON array of records (or could not be read).
    Fatal(String),
}

fn parse_record(index: u64, value: &Value) -> Item {
    match extract_external_id(value) {
        Ok(external_id) => {
            let canonical = Canonical::of(value);
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&canonical.hash, &mut hash).expect("own hex");
            Item::Ok(Parsed {
                index,
                external_id,
                text: canonical.text,
                hash,
            })
        }
        Err(e) => Item::Rejected(RecordError {
            index,
            external_id: None,
            reason: e.to_string(),
        }),
    }
}

/// Sends parsed records in chunks; false once the receiver is gone.
struct ChunkSender {
    tx: mpsc::Sender<Message>,
    chunk: Vec<Item>,
    next_index: u64,
}

impl ChunkSender {
    fn push(&mut self, value: &Value) -> bool {
        self.chunk.push(parse_record(self.next_index, value));
        self.next_index += 1;
        if self.chunk.len() >= PARSE_CHUNK {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(PARSE_CHUNK));
        self.tx.blocking_send(Message::Chunk(chunk)).is_ok()
    }
}

/// Counts the bytes read, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs on its own thread: parses, canonicalises and hashes, sending chunks to the writer.
fn produce(input: ImportInput, tx: mpsc::Sender<Message>, bytes: Arc<AtomicU64>) {
    let mut sender = ChunkSender {
        tx: tx.clone(),
        chunk: Vec::with_capacity(PARSE_CHUNK),
        next_index: 0,
    };
    match input {
        ImportInput::Records(records) => {
            for value in &records {
                if !sender.push(value) {
                    return;
                }
            }
            sender.flush();
        }
        ImportInput::Reader(reader) => {
            let reader = CountingReader {
                inner: reader,
                count: bytes,
            };
            let result = json_stream::for_each_element(reader, 1 << 18, |raw, at| {
                let value: Value = serde_json::from_slice(raw).map_err(|e| {
                    let text = e.to_string();
                    let message = text.split(" at line ").next().unwrap_or(&text).to_string();
                    StreamError::Syntax {
                        message,
                        at: at.offset(e.line(), e.column()),
                    }
                })?;
                Ok(if sender.push(&value) {
                    Flow::Continue
                } else {
                    Flow::Stop
                })
            });
            let msg = match result {
                Ok(()) => {
                    sender.flush();
                    return;
                }
                Err(StreamError::Io(e)) => format!("could not read the input: {e}"),
                Err(e) => format!("the input must be a JSON array of records: {e}"),
            };
            let _ = tx.blocking_send(Message::Fatal(msg));
        }
    }
}

/// What the source held for one external id before the import, and what the import did to it.
struct Entry {
    /// Existing row: (id, hash, soft-deleted).
    existing: Option<(i64, [u8; 32], bool)>,
    seen: Option<Seen>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Restored,
    Unchanged,
}

struct Seen {
    index: u64,
    /// Hash of the version this import wrote (or left) for the id.
    hash: [u8; 32],
    outcome: Outcome,
    /// Position in the unwritten batch, while it is unwritten.
    pending: Option<usize>,
    snapshotted: bool,
}

fn count(stats: &mut ImportStats, outcome: Outcome, delta: i64) {
    let slot = match outcome {
        Outcome::Created => &mut stats.created,
        Outcome::Updated => &mut stats.updated,
        Outcome::Restored => &mut stats.restored,
        Outcome::Unchanged => &mut stats.unchanged,
    };
    *slot = slot.wrapping_add_signed(delta);
}

struct Pending {
    record: Parsed,
    /// Existing row to snapshot before the write.
    snapshot: Option<i64>,
}

struct Writer<'a> {
    tx: &'a DatabaseTransaction,
    backend: DbBackend,
    tenant: TenantId,
    source: SourceId,
    run: RunId,
    index: HashMap<String, Entry>,
    batch: Vec<Option<Pending>>,
    stats: ImportStats,
    errors: Vec<RecordError>,
    /// Classify everything, write nothing.
    dry_run: bool,
}

impl Writer<'_> {
    async fn load_index(&mut self) -> AppResult<()> {
        let mut q = Sql::new(
            self.backend,
            "SELECT id, external_id, hash, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END \
             FROM source_properties WHERE source_id = ",
        );
        q.bind(self.source.0);
        let rows = q.fetch_all(self.tx).await?;
        self.index.reserve(rows.len());
        for row in rows {
            let id: i64 = row.try_get_by_index(0)?;
            let external_id: String = row.try_get_by_index(1)?;
            let hash_hex: String = row.try_get_by_index(2)?;
            let deleted: i32 = row.try_get_by_index(3)?;
            let mut hash = [0u8; 32];
            // A hash that is not 64 hex digits never equals a computed one.
            let _ = hex::decode_to_slice(&hash_hex, &mut hash);
            self.index.insert(
                external_id,
                Entry {
                    existing: Some((id, hash, deleted != 0)),
                    seen: None,
                },
            );
        }
        Ok(())
    }

    fn accept(&mut self, record: Parsed) {
        let entry = self
            .index
            .entry(record.external_id.clone())
            .or_insert(Entry {
                existing: None,
                seen: None,
            });
        let outcome = match entry.existing {
            None => Outcome::Created,
            Some((_, _, true)) => Outcome::Restored,
            Some((_, hash, false)) if hash == record.hash => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        };
        let existing_id = entry.existing.map(|e| e.0);
        let already_snapshotted = entry
            .seen
            .as_ref()
            .is_some_and(|s| s.snapshotted && s.pending.is_none());
        let (write, snapshot) = match entry.seen.take() {
            None => (outcome != Outcome::Unchanged, outcome != Outcome::Created),
            Some(prev) => {
                // Duplicate id in one batch: the last one wins.
                self.errors.push(RecordError {
                    index: prev.index,
                    external_id: Some(record.external_id.clone()),
                    reason: format!("superseded by record {} with the same id", record.index),
                });
                count(&mut self.stats, prev.outcome, -1);
                if let Some(slot) = prev.pending {
                    // Not written yet: drop the earlier version from the batch.
                    let earlier = self.batch[slot].take();
                    let snapshotted = earlier.is_some_and(|p| p.snapshot.is_some());
                    (
                        outcome != Outcome::Unchanged,
                        snapshotted
                            || (outcome != Outcome::Created && outcome != Outcome::Unchanged),
                    )
                } else {
                    (
                        prev.hash != record.hash,
                        !prev.snapshotted && existing_id.is_some(),
                    )
                }
            }
        };
        count(&mut self.stats, outcome, 1);
        let pending = write.then_some(self.batch.len());
        entry.seen = Some(Seen {
            index: record.index,
            hash: record.hash,
            outcome,
            pending,
            snapshotted: already_snapshotted || (write && snapshot),
        });
        if write {
            self.batch.push(Some(Pending {
                record,
                snapshot: if snapshot { existing_id } else { None },
            }));
        }
    }

    /// Writes the batch (a dry run only forgets it).
    async fn flush(&mut self) -> AppResult<()> {
        let batch: Vec<Pending> = std::mem::take(&mut self.batch)
            .into_iter()
            .flatten()
            .collect();
        for pending in &batch {
            if let Some(entry) = self.index.get_mut(&pending.record.external_id)
                && let Some(seen) = entry.seen.as_mut()
            {
                seen.pending = None;
            }
        }
        if batch.is_empty() || self.dry_run {
            return Ok(());
        }
        let to_snapshot: Vec<i64> = batch.iter().filter_map(|p| p.snapshot).collect();
        snapshot_ids(
            self.tx,
            PropertyKind::Source,
            &to_snapshot,
            self.run,
            "import",
        )
        .await?;
        let at = now();
        for rows in batch.chunks(WRITE_ROWS) {
            let mut q = Sql::new(
                self.backend,
                "INSERT INTO source_properties (tenant_id, source_id, external_id, data, hash, \
                 created_run_id, run_id, created_at, updated_at) ",
            );
            if self.backend == DbBackend::Postgres {
                // Three array parameters instead of nine per row.
                let column = |f: &dyn Fn(&Pending) -> String| {
                    let values = rows.iter().map(|p| sea_orm::Value::from(f(p))).collect();
                    sea_orm::Value::Array(
                        sea_orm::sea_query::ArrayType::String,
                        Some(Box::new(values)),
                    )
                };
                q.push("SELECT ")
                    .bind(self.tenant.0)
                    .push(", ")
                    .bind(self.source.0)
                    .push(", u.e, u.d, u.h, ")
                    .bind(self.run.0)
                    .push(", ")
                    .bind(self.run.0)
                    .push(", ")
                    .bind(at)
                    .push(", ")
                    .bind(at)
                    .push(" FROM UNNEST(")
                    .bind(column(&|p| p.record.external_id.clone()))
                    .push("::text[], ")
                    .bind(column(&|p| p.record.text.clone()))
                    .push("::text[], ")
                    .bind(column(&|p| hex::encode(p.record.hash)))
                    .push("::text[]) AS u(e, d, h)");
            } else {
                q.push("VALUES ");
                for (i, p) in rows.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    q.push("(")
                        .bind(self.tenant.0)
                        .push(", ")
                        .bind(self.source.0)
                        .push(", ")
                        .bind(p.record.external_id.as_str())
                        .push(", ")
                        .bind(p.record.text.as_str())
                        .push(", ")
                        .bind(hex::encode(p.record.hash))
                        .push(", ")
                        .bind(self.run.0)
                        .push(", ")
                        .bind(self.run.0)
                        .push(", ")
                        .bind(at)
                        .push(", ")
                        .bind(at)
                        .push(")");
                }
            }
            q.push(
                " ON CONFLICT (source_id, external_id) DO UPDATE SET data = excluded.data, \
                 hash = excluded.hash, run_id = excluded.run_id, updated_at = excluded.updated_at, \
                 deleted_at = NULL",
            );
            q.execute(self.tx).await?;
        }
        Ok(())
    }

    /// Live records this `full` import did not mention, and the live count before it.
    fn missing_live(&self) -> (Vec<i64>, u64) {
        let mut live = 0;
        let mut missing = Vec::new();
        for entry in self.index.values() {
            if let Some((id, _, false)) = entry.existing {
                live += 1;
                if entry.seen.is_none() {
                    missing.push(id);
                }
            }
        }
        missing.sort_unstable();
        (missing, live)
    }

    async fn soft_delete(&mut self, ids: &[i64]) -> AppResult<()> {
        if self.dry_run {
            return Ok(());
        }
        snapshot_ids(self.tx, PropertyKind::Source, ids, self.run, "import").await?;
        let at = now();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend, "UPDATE source_properties SET deleted_at = ");
            q.bind(at)
                .push(", updated_at = ")
                .bind(at)
                .push(", run_id = ")
                .bind(self.run.0)
                .push(" WHERE id IN ")
                .bind_list(chunk.iter().copied());
            q.execute(self.tx).await?;
        }
        Ok(())
    }
}

/// Imports records into a source: one transaction, one run. See SPEC §4 "Import".
pub async fn import(
    db: &DatabaseConnection,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let source = super::sources::get(db, tenant, source_id).await?;
    let settings = super::sources::settings(&source);

    let (chan_tx, mut chan_rx) = mpsc::channel::<Message>(8);
    let bytes = Arc::new(AtomicU64::new(0));
    let producer_bytes = bytes.clone();
    let producer = std::thread::Builder::new()
        .name("import-parser".into())
        .spawn(move || produce(input, chan_tx, producer_bytes))
        .map_err(|e| AppError::Conflict(format!("could not start the parser thread: {e}")))?;

    let tx = crate::db::begin_write(db).await?;
    lock_source(&tx, source_id).await?;
    let run = runs::start(&tx, tenant, RunKind::Import, Some(source_id), None, actor).await?;
    let mut writer = Writer {
        tx: &tx,
        backend: tx.get_database_backend(),
        tenant,
        source: source_id,
        run: RunId(run.id),
        index: HashMap::new(),
        batch: Vec::new(),
        stats: ImportStats::default(),
        errors: Vec::new(),
        dry_run: opts.dry_run,
    };
    writer.load_index().await?;

    let mut records = 0u64;
    while let Some(message) = chan_rx.recv().await {
        match message {
            Message::Chunk(items) => {
                records += items.len() as u64;
                for item in items {
                    match item {
                        Item::Ok(parsed) => writer.accept(parsed),
                        Item::Rejected(err) => {
                            writer.stats.rejected += 1;
                            writer.errors.push(err);
                        }
                    }
                }
                writer.flush().await?;
                if let Some(progress) = &progress {
                    progress(ImportProgress {
                        records,
                        bytes: bytes.load(Ordering::Relaxed),
                    });
                }
            }
            Message::Fatal(reason) => {
                drop(chan_rx);
                let _ = producer.join();
                return Err(AppError::invalid("data", reason));
            }
        }
    }
    let _ = producer.join();

    if opts.strict && writer.stats.rejected > 0 {
        let errors = writer
            .errors
            .into_iter()
            .filter(|e| !e.reason.starts_with("superseded"))
            .collect();
        return Err(AppError::Rejected { errors });
    }

    if opts.mode == ImportMode::Full {
        let (missing, live) = writer.missing_live();
        let fraction = if live == 0 {
            0.0
        } else {
            missing.len() as f64 / live as f64
        };
        if !missing.is_empty() && fraction > settings.max_delete_fraction && !opts.force {
            return Err(AppError::Conflict(format!(
                "refusing a full import that would delete {} of {} live records ({:.0}%), more \
                 than the source's max_delete_fraction of {:.0}%; check the input, or force it \
                 (--force / \"force\": true), or raise config.max_delete_fraction",
                missing.len(),
                live,
                fraction * 100.0,
                settings.max_delete_fraction * 100.0
            )));
        }
        writer.stats.deleted = missing.len() as u64;
        writer.soft_delete(&missing).await?;
    }

    let stats = writer.stats;
    let errors = writer.errors;
    if opts.dry_run {
        tx.rollback().await?;
        return Ok(ImportOutcome {
            run_id: None,
            stats,
            errors,
            dry_run: true,
        });
    }
    let rejected: Vec<&RecordError> = errors
        .iter()
        .filter(|e| !e.reason.starts_with("superseded"))
        .collect();
    if !rejected.is_empty() {
        let shown: Vec<&&RecordError> = rejected.iter().take(20).collect();
        warnings::ActiveModel {
            tenant_id: Set(tenant.0),
            run_id: Set(Some(run.id)),
            kind: Set("rejected".into()),
            source_id: Set(Some(source_id.0)),
            target_id: Set(None),
            target_property_id: Set(None),
            external_id: Set(None),
            source_hash: Set(None),
            message: Set(format!(
                "{} record(s) of an import into source {} were rejected; first: record {}: {}",
                rejected.len(),
                source_id,
                rejected[0].index,
                rejected[0].reason
            )),
            details: Set(serde_json::json!({"errors": shown, "total": rejected.len()}).to_string()),
            status: Set("open".into()),
            resolution: Set(None),
            resolved_run_id: Set(None),
            created_at: Set(now()),
            resolved_at: Set(None),
            ..Default::default()
        }
        .insert(&tx)
        .await?;
    }
    let detail = serde_json::json!({
        "mode": if opts.mode == ImportMode::Full { "full" } else { "upsert" },
        "records": records,
        "errors": errors.iter().take(1000).collect::<Vec<_>>(),
        "errors_total": errors.len(),
    });
    let run = runs::finish(&tx, run, &stats, Some(detail)).await?;
    tx.commit().await?;
    Ok(ImportOutcome {
        run_id: Some(RunId(run.id)),
        stats,
        errors,
        dry_run: false,
    })
}

/// Serialises imports of one source across processes on PostgreSQL (SQLite's `BEGIN
/// IMMEDIATE` already admits one writer at a time).
async fn lock_source(tx: &DatabaseTransaction, source: SourceId) -> AppResult<()> {
    if tx.get_database_backend() == DbBackend::Postgres {
        let mut q = Sql::new(DbBackend::Postgres, "SELECT pg_advisory_xact_lock(");
        q.bind(1i32).push(", ").bind(source.0 as i32).push(")");
        q.execute(tx).await?;
    }
    Ok(())
}
