//! Import: records into a source (SPEC §4 "Import"), one transaction and one run. The input
//! is parsed on a thread of its own (`ingest::reader`), pipelined with the writer; each record
//! is decided as it comes (`domain::import_plan`) and written in batches
//! (`store::source_rows`).
use super::Actor;
use super::index_cache::IndexCache;
use super::runs::{self, RunKind};
use crate::domain::import_index::Index;
use crate::domain::import_plan::{Planner, full_guard, options_of};
use crate::domain::stats::{ImportStats, RecordError};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, RunId, SourceId, TenantId};
use crate::ingest::item::{Item, Message};
use crate::store::live_counts;
use crate::store::locks::{self, Mode};
use crate::store::source_rows::SourceWriter;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use super::import_preview::PreviewedRecord;
pub use crate::domain::import_plan::{ImportMode, ImportOptions};
pub use crate::ingest::item::MAX_RECORD_BYTES;
pub use crate::ingest::{ImportInput, ImportProgress, ProgressFn};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportOutcome {
    /// The run recorded; `None` for a dry run.
    pub run_id: Option<RunId>,
    pub stats: ImportStats,
    /// Rejected records and records superseded by a later one with the same id.
    pub errors: Vec<RecordError>,
    pub dry_run: bool,
    /// A dry run's records that would change (the first of them), record by record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preview: Vec<PreviewedRecord>,
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
    let place = Place { db, indexes: None };
    import_into(place, tenant, source_id, input, opts, actor, progress).await
}

/// [`import`] for a process that imports the same sources again (the server): the source's
/// index is taken from `indexes` when what is kept there is still what the source holds, and
/// kept there afterwards (see `index_cache`).
#[allow(clippy::too_many_arguments)]
pub async fn import_keeping_index(
    db: &DatabaseConnection,
    indexes: &Arc<IndexCache>,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let place = Place {
        db,
        indexes: Some(indexes),
    };
    import_into(place, tenant, source_id, input, opts, actor, progress).await
}

/// Where an import writes: the database, and the indexes kept between imports if any.
#[derive(Clone, Copy)]
struct Place<'a> {
    db: &'a DatabaseConnection,
    indexes: Option<&'a Arc<IndexCache>>,
}

async fn import_into(
    place: Place<'_>,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let db = place.db;
    let source = super::sources::get(db, tenant, source_id).await?;
    if opts.dry_run {
        // A dry run writes nothing, its run included.
        return import_recorded(place, tenant, source, input, opts, actor, None, progress).await;
    }
    let new = runs::NewRun {
        tenant,
        kind: RunKind::Import,
        source: Some(source_id),
        target: None,
        actor,
    };
    let run = runs::open(db, new).await?;
    let id = RunId(run.id);
    let work = import_recorded(
        place,
        tenant,
        source,
        input,
        opts,
        actor,
        Some(run),
        progress,
    );
    runs::recorded(db, id, work).await
}

/// `import`, with its run (opened before, or `None` for a dry run, whose run lives and dies
/// with its transaction).
#[allow(clippy::too_many_arguments)]
async fn import_recorded(
    place: Place<'_>,
    tenant: TenantId,
    source: crate::entity::sources::Model,
    input: ImportInput,
    mut opts: ImportOptions,
    actor: &Actor,
    run: Option<crate::entity::runs::Model>,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let (db, indexes) = (place.db, place.indexes);
    let source_id = SourceId(source.id);
    let settings = super::sources::settings(&source);
    let mut parser = crate::ingest::reader::spawn(input, crate::config::tuning().hold_elements)
        .map_err(|e| AppError::Conflict(format!("could not start the parser thread: {e}")))?;

    let tx = crate::db::begin_write(db).await?;
    let run = match run {
        Some(run) => {
            runs::attach(&tx, &run).await?;
            run
        }
        None => runs::start(&tx, tenant, RunKind::Import, Some(source_id), None, actor).await?,
    };
    locks::lock(&tx, Owner::Source(source_id), Mode::Exclusive).await?;
    let mut writer = SourceWriter::new(&tx, tenant, source_id, RunId(run.id));
    let started = std::time::Instant::now();
    // Read under the source's lock: nobody writes its records until this transaction ends.
    let (index, known, hit) =
        super::index_cache::load(indexes, &tx, tenant, &source, &writer).await?;
    tracing::debug!(
        rows = index.len(),
        unparsed_candidates = known.raw.len(),
        kept = hit,
        ms = started.elapsed().as_millis() as u64,
        "import: source index loaded"
    );
    let raw_before = known.raw.clone();
    let dry_run = opts.dry_run;
    let keep =
        |index: &Index| !dry_run && indexes.is_some_and(|indexes| indexes.may_keep(index.len()));
    let mut planner = Planner::new(index, dry_run);
    planner.note_written(keep(planner.index()));
    // The parser may be done already (a small input); then nobody needs the hashes.
    let _ = parser.known.send(known);

    let mut records = 0u64;
    while let Some(message) = parser.messages.recv().await {
        match message {
            Message::Chunk(items) => {
                records += items.len() as u64;
                for item in items {
                    match item {
                        Item::Ok(parsed) => planner.accept(parsed),
                        Item::Same { index, slot } => planner
                            .accept_same(index, slot)
                            .map_err(|bug| AppError::Db(sea_orm::DbErr::Custom(bug)))?,
                        Item::Rejected(err) => planner.reject(err),
                    }
                }
                if planner.batch_len() >= writer.write_rows() {
                    let batch = planner.take_batch();
                    if !dry_run {
                        let (index, written) = planner.parts();
                        writer.write(batch, index, written).await?;
                    }
                    if planner.notes_written() && !keep(planner.index()) {
                        // Too big to keep: the next import reads the index.
                        planner.note_written(false);
                    }
                }
                if let Some(progress) = &progress {
                    progress(ImportProgress {
                        records,
                        bytes: parser.bytes.load(Ordering::Relaxed),
                    });
                }
            }
            Message::Envelope(fields) => {
                opts = options_of(&fields, opts).map_err(|(f, e)| AppError::invalid(f, e))?
            }
            Message::Fatal(reason) => {
                drop(parser.messages);
                let _ = parser.thread.join();
                return Err(AppError::Malformed(reason));
            }
        }
    }
    let _ = parser.thread.join();
    let batch = planner.take_batch();
    if !dry_run {
        let (index, written) = planner.parts();
        writer.write(batch, index, written).await?;
    }
    tracing::debug!(
        records,
        ms = started.elapsed().as_millis() as u64,
        "import: input read and written"
    );

    if opts.strict && planner.stats.rejected > 0 {
        let errors = planner.rejected().cloned().collect();
        return Err(AppError::Rejected { errors });
    }

    if opts.mode == ImportMode::Full {
        let (missing, live) = planner.missing_live();
        full_guard(
            missing.len(),
            live,
            settings.max_delete_fraction,
            opts.force,
        )
        .map_err(AppError::Conflict)?;
        planner.delete_missing(&missing);
        if !dry_run {
            writer.soft_delete(&missing).await?;
        }
    }

    if opts.dry_run {
        let preview = match planner.take_preview() {
            Some(notes) => super::import_preview::finish(notes, &tx).await?,
            None => Vec::new(),
        };
        tx.rollback().await?;
        return Ok(ImportOutcome {
            run_id: None,
            stats: planner.stats,
            errors: planner.errors,
            dry_run: true,
            preview,
        });
    }
    super::warnings::raise_rejected(&tx, tenant, RunId(run.id), source_id, &planner).await?;
    let stats = planner.stats;
    let detail = serde_json::json!({
        "mode": opts.mode.as_str(),
        "records": records,
        "errors": planner.errors.iter().take(1000).collect::<Vec<_>>(),
        "errors_total": planner.errors.len(),
    });
    if writer.inserted() {
        live_counts::recount_after_insert(&tx, Owner::Source(source_id)).await?;
    }
    let run = super::commit::seal(&tx, run, &stats, Some(detail)).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "import: run finished"
    );
    // What the source holds once this commits: read while the lock is still held.
    let after = match indexes {
        Some(_) => super::index_cache::after(&tx, tenant, &source, &mut planner).await?,
        None => None,
    };
    super::commit::commit(tx).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "import: committed"
    );
    if let (Some(indexes), Some(after)) = (indexes, after) {
        // After the answer: ~25 ms for 100,000 new records that the client need not wait for.
        indexes.keep_after(source_id, after, raw_before);
    }
    Ok(ImportOutcome {
        run_id: Some(RunId(run.id)),
        stats,
        errors: planner.errors,
        dry_run: false,
        preview: Vec::new(),
    })
}
