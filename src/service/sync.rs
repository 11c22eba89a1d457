//! Sync: source → target without ever silently losing a manual edit on the target (SPEC §4).
//! Reads both sides' hashes in two queries, decides per record, and copies unchanged-by-hand
//! records inside the database in multi-row statements; only hand-edited records whose source
//! changed are handled one by one (merge, keep, or overwrite with a warning).
use super::runs::{self, RunKind};
use super::{Actor, now};
use crate::domain::merge::FieldConflict;
use crate::domain::stats::{PlannedAction, SyncStats};
use crate::domain::sync_plan::{self, Draft};
use crate::domain::warning::NewWarning;
use crate::error::AppResult;
use crate::ids::{Owner, RunId, SourceId, TargetId, TenantId};
use crate::store::locks::{self, Mode};
use crate::store::{target_rows, warning_rows};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Return the plan, write nothing.
    pub dry_run: bool,
}

/// A warning raised by a sync (stored unless it is a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct SyncWarning {
    /// Id of the stored warning; `None` in a dry run.
    pub id: Option<i64>,
    pub kind: String,
    pub external_id: String,
    pub message: String,
    pub fields: Vec<FieldConflict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncOutcome {
    /// The run recorded; `None` for a dry run.
    pub run_id: Option<RunId>,
    pub stats: SyncStats,
    /// Every action taken (or, in a dry run, planned); unchanged records are not listed.
    pub plan: Vec<PlannedAction>,
    pub warnings: Vec<SyncWarning>,
    pub dry_run: bool,
}

/// One async lock per target, for syncs in this process: a second sync into a target waits
/// here rather than in SQLite's busy loop (the database's lock, see `locks`, is what counts).
type TargetLocks = Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>;

static TARGET_LOCKS: LazyLock<TargetLocks> = LazyLock::new(Default::default);

fn target_lock(target: TargetId) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = TARGET_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    locks.entry(target.0).or_default().clone()
}

/// Syncs a source into a target: one transaction, one run, serialised with every other writer
/// of the target's records (see `locks`).
pub async fn sync(
    db: &DatabaseConnection,
    tenant: TenantId,
    source_id: SourceId,
    target_id: TargetId,
    opts: SyncOptions,
    actor: &Actor,
) -> AppResult<SyncOutcome> {
    super::sources::get(db, tenant, source_id).await?;
    let target = super::targets::get(db, tenant, target_id).await?;
    let new = runs::NewRun {
        tenant,
        kind: RunKind::Sync,
        source: Some(source_id),
        target: Some(target_id),
        actor,
    };
    if opts.dry_run {
        // A dry run writes nothing, its run included.
        return sync_recorded(db, new, source_id, &target, None, opts).await;
    }
    let run = runs::open(db, new.clone()).await?;
    let id = RunId(run.id);
    let work = sync_recorded(db, new, source_id, &target, Some(run), opts);
    runs::recorded(db, id, work).await
}

/// `sync`, with its run (opened before, or `None` for a dry run, whose run lives and dies
/// with its transaction).
async fn sync_recorded(
    db: &DatabaseConnection,
    new: runs::NewRun<'_>,
    source_id: SourceId,
    target: &crate::entity::targets::Model,
    run: Option<crate::entity::runs::Model>,
    opts: SyncOptions,
) -> AppResult<SyncOutcome> {
    let (tenant, target_id) = (new.tenant, TargetId(target.id));
    let settings = super::targets::settings(target);
    let lock = target_lock(target_id);
    let _guard = lock.lock().await;
    let tx = crate::db::begin_write(db).await?;
    let run = match run {
        Some(run) => {
            runs::attach(&tx, &run).await?;
            run
        }
        None => {
            let n = &new;
            runs::start(&tx, tenant, n.kind, n.source, n.target, n.actor).await?
        }
    };
    // The source's records are read, the target's written (see `locks`).
    locks::lock(&tx, Owner::Source(source_id), Mode::Shared).await?;
    locks::lock(&tx, Owner::Target(target_id), Mode::Exclusive).await?;
    let run_id = RunId(run.id);

    let started = std::time::Instant::now();
    let (candidates, in_sync) = target_rows::load_candidates(&tx, source_id, target_id).await?;
    tracing::debug!(
        candidates = candidates.len(),
        in_sync,
        ms = started.elapsed().as_millis() as u64,
        "sync: candidates loaded"
    );
    let open = warning_rows::open_keys(&tx, target_id).await?;

    let mut plan = sync_plan::decide(&candidates, in_sync, settings.delete_policy);
    if !plan.clashes.is_empty() {
        let texts = target_rows::clash_texts(&tx, &plan).await?;
        sync_plan::resolve(&mut plan, settings.conflict_policy, &texts);
    }
    // One open warning per record, kind and source version is enough.
    sync_plan::drop_open(&mut plan, &open);

    if opts.dry_run {
        tx.rollback().await?;
        return Ok(SyncOutcome {
            run_id: None,
            stats: plan.stats,
            plan: plan.actions,
            warnings: plan
                .drafts
                .into_iter()
                .map(|d| to_warning(None, d))
                .collect(),
            dry_run: true,
        });
    }

    let at = now();
    target_rows::apply(&tx, source_id, target_id, run_id, at, &plan).await?;
    let mut stored = Vec::with_capacity(plan.drafts.len());
    for d in plan.drafts {
        let new = NewWarning {
            kind: d.kind,
            run_id: run_id.0,
            source_id: Some(source_id.0),
            target_id: Some(target_id.0),
            target_property_id: Some(d.target_property_id),
            external_id: Some(d.external_id.clone()),
            source_hash: d.source_hash.clone(),
            message: d.message.clone(),
            details: json!({"fields": d.fields}).to_string(),
        };
        let model = warning_rows::insert(&tx, tenant, new, at).await?;
        stored.push(to_warning(Some(model.id), d));
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "sync: written");
    super::properties::recount_after_insert(&tx, super::properties::Owner::Target(target_id))
        .await?;
    super::commit::run(tx, run, &plan.stats, None).await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "sync: committed");
    Ok(SyncOutcome {
        run_id: Some(run_id),
        stats: plan.stats,
        plan: plan.actions,
        warnings: stored,
        dry_run: false,
    })
}

fn to_warning(id: Option<i64>, d: Draft) -> SyncWarning {
    SyncWarning {
        id,
        kind: d.kind.to_string(),
        external_id: d.external_id,
        message: d.message,
        fields: d.fields,
    }
}
