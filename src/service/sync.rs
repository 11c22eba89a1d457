//! Sync: source → target without ever silently losing a manual edit on the target (SPEC §4).
//! Reads both sides' hashes in two queries, decides per record, and copies unchanged-by-hand
//! records inside the database in multi-row statements; only hand-edited records whose source
//! changed are handled one by one (merge, keep, or overwrite with a warning).
use super::runs::{self, RunKind};
use super::snapshots::snapshot_ids;
use super::{Actor, now, parse_object};
use crate::domain::canonical::Canonical;
use crate::domain::kinds::{ConflictPolicy, DeletePolicy};
use crate::domain::merge::{FieldConflict, differing_fields, three_way_merge};
use crate::domain::stats::{PlannedAction, SyncAction, SyncStats};
use crate::domain::warning::{NewWarning, WarningKind};
use crate::entity::target_properties;
use crate::error::{AppError, AppResult};
use crate::ids::Side;
use crate::ids::{Owner, RunId, SourceId, TargetId, TenantId};
use crate::store::agg::{self, AggPage, Sep, page_rows};
use crate::store::locks::{self, Mode};
use crate::store::sql::{CHUNK, Sql};
use crate::store::warning_rows;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Set,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
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

struct SourceRow {
    id: i64,
    external_id: String,
    hash: String,
    deleted: bool,
}

struct TargetRow {
    id: i64,
    source_property_id: Option<i64>,
    hash: String,
    synced_hash: Option<String>,
    deleted: bool,
}

/// A hand-edited target record whose source changed.
struct Clash {
    target_id: i64,
    source_id: i64,
    external_id: String,
    source_hash: String,
}

struct Draft {
    kind: WarningKind,
    target_property_id: i64,
    external_id: String,
    source_hash: Option<String>,
    message: String,
    fields: Vec<FieldConflict>,
}

fn fields_of(
    diff: Vec<(String, Option<Value>, Option<Value>)>,
    base: &Map<String, Value>,
) -> Vec<FieldConflict> {
    diff.into_iter()
        .map(|(field, source, target)| FieldConflict {
            base: base.get(&field).cloned(),
            field,
            source,
            target,
        })
        .collect()
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
    let backend = tx.get_database_backend();
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
    let (candidates, in_sync) = load_candidates(&tx, source_id, target_id).await?;
    tracing::debug!(
        candidates = candidates.len(),
        in_sync,
        ms = started.elapsed().as_millis() as u64,
        "sync: candidates loaded"
    );
    let open = warning_rows::open_keys(&tx, target_id).await?;

    let mut stats = SyncStats {
        unchanged: in_sync,
        ..Default::default()
    };
    let mut plan = Vec::new();
    let (mut creates, mut copies, mut deletes, mut clashes) = (vec![], vec![], vec![], vec![]);
    let mut drafts = Vec::new();
    for (s, t) in &candidates {
        let Some(t) = t else {
            if !s.deleted {
                creates.push(s.id);
                stats.created += 1;
                plan.push(action(&s.external_id, SyncAction::Create));
            }
            continue;
        };
        let manual = t.synced_hash.as_deref() != Some(t.hash.as_str());
        if t.deleted {
            if !s.deleted {
                copies.push(t.id);
                stats.updated += 1;
                plan.push(action(&s.external_id, SyncAction::Restore));
            }
        } else if s.deleted {
            match settings.delete_policy {
                // A record whose deletion was declined (warning resolved keep_target) is
                // detached from its source and stays.
                _ if t.source_property_id != Some(s.id) => stats.unchanged += 1,
                DeletePolicy::Ignore => stats.unchanged += 1,
                DeletePolicy::Mark => {
                    deletes.push(t.id);
                    stats.deleted += 1;
                    plan.push(action(&s.external_id, SyncAction::Delete));
                    if manual {
                        drafts.push(Draft {
                            kind: WarningKind::DeletedManual,
                            target_property_id: t.id,
                            external_id: s.external_id.clone(),
                            source_hash: Some(s.hash.clone()),
                            message: format!(
                                "{:?} was deleted in the source and removed from the target, \
                                 losing its manual edits (restore them with keep_target)",
                                s.external_id
                            ),
                            fields: vec![],
                        });
                    }
                }
            }
        } else if !manual || t.hash == s.hash {
            // (Pairs whose source did not change since the last sync were counted as
            // unchanged by `load_candidates`: a manual edit on them survives.)
            copies.push(t.id);
            stats.updated += 1;
            plan.push(action(&s.external_id, SyncAction::Update));
        } else {
            clashes.push(Clash {
                target_id: t.id,
                source_id: s.id,
                external_id: s.external_id.clone(),
                source_hash: s.hash.clone(),
            });
        }
    }

    let mut clash_writes = Vec::new();
    if !clashes.is_empty() {
        resolve_clashes(
            &tx,
            settings.conflict_policy,
            &clashes,
            &mut stats,
            &mut plan,
            &mut drafts,
            &mut clash_writes,
        )
        .await?;
    }
    // One open warning per record, kind and source version is enough.
    drafts.retain(|d| {
        !open.contains(&(
            d.target_property_id,
            d.kind.to_string(),
            d.source_hash.clone().unwrap_or_default(),
        ))
    });
    stats.warnings = drafts.len() as u64;

    if opts.dry_run {
        tx.rollback().await?;
        return Ok(SyncOutcome {
            run_id: None,
            stats,
            plan,
            warnings: drafts.into_iter().map(|d| to_warning(None, d)).collect(),
            dry_run: true,
        });
    }

    let at = now();
    // New target records, copied from their source records `s`.
    let insert = || {
        let mut q = Sql::new(
            backend,
            "INSERT INTO target_properties (tenant_id, target_id, external_id, source_property_id, \
             data, hash, synced_hash, last_synced_at, created_run_id, run_id, created_at, \
             updated_at) SELECT s.tenant_id, ",
        );
        q.bind(target_id.0)
            .push(", s.external_id, s.id, s.data, s.hash, s.hash, ")
            .bind(at)
            .push(", ")
            .bind(run_id.0)
            .push(", ")
            .bind(run_id.0)
            .push(", ")
            .bind(at)
            .push(", ")
            .bind(at)
            .push(" FROM source_properties AS s WHERE ");
        q
    };
    if backend == DbBackend::Sqlite {
        // SQLite: by id, in chunks (faster there than the set-based statement below).
        for chunk in creates.chunks(CHUNK) {
            let mut q = insert();
            q.push("s.id IN ").bind_list(chunk.iter().copied());
            q.execute(&tx).await?;
        }
    } else if !creates.is_empty() {
        // PostgreSQL: one statement for all (round trips cost more than the work): the live
        // source records with no target record at all, the very set `creates` holds (the pair
        // is locked and this is one transaction).
        let mut q = insert();
        q.push("s.source_id = ")
            .bind(source_id.0)
            .push(
                " AND s.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM target_properties AS t \
                 WHERE t.target_id = ",
            )
            .bind(target_id.0)
            .push(" AND t.external_id = s.external_id) ORDER BY s.id");
        let created = q.execute(&tx).await?;
        if created != creates.len() as u64 {
            return Err(AppError::Conflict(format!(
                "sync of source {source_id} to target {target_id}: expected to create {} \
                 records, created {created}; nothing was written, try again",
                creates.len()
            )));
        }
    }
    let mut snapshot_targets: Vec<i64> = copies.iter().chain(&deletes).copied().collect();
    snapshot_targets.extend(clash_writes.iter().map(|w: &ClashWrite| w.target_id));
    snapshot_ids(&tx, Side::Target, &snapshot_targets, run_id, "sync").await?;
    for chunk in copies.chunks(CHUNK) {
        let mut q = Sql::new(
            backend,
            "UPDATE target_properties SET data = s.data, hash = s.hash, synced_hash = s.hash, \
             base_data = NULL, source_property_id = s.id, deleted_at = NULL, last_synced_at = ",
        );
        q.bind(at)
            .push(", run_id = ")
            .bind(run_id.0)
            .push(", updated_at = ")
            .bind(at)
            .push(" FROM source_properties AS s WHERE s.source_id = ")
            .bind(source_id.0)
            .push(" AND s.external_id = target_properties.external_id AND target_properties.id IN ")
            .bind_list(chunk.iter().copied());
        q.execute(&tx).await?;
    }
    for chunk in deletes.chunks(CHUNK) {
        let mut q = Sql::new(backend, "UPDATE target_properties SET deleted_at = ");
        q.bind(at)
            .push(", run_id = ")
            .bind(run_id.0)
            .push(", updated_at = ")
            .bind(at)
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().copied());
        q.execute(&tx).await?;
    }
    for w in clash_writes {
        target_properties::ActiveModel {
            id: Set(w.target_id),
            data: Set(w.data),
            hash: Set(w.hash),
            synced_hash: Set(Some(w.synced_hash)),
            base_data: Set(w.base),
            source_property_id: Set(Some(w.source_property_id)),
            last_synced_at: Set(Some(at)),
            run_id: Set(Some(run_id.0)),
            updated_at: Set(at),
            ..Default::default()
        }
        .update(&tx)
        .await?;
    }
    let mut stored = Vec::with_capacity(drafts.len());
    for d in drafts {
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
    runs::finish(&tx, run, &stats, None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "sync: committed");
    Ok(SyncOutcome {
        run_id: Some(run_id),
        stats,
        plan,
        warnings: stored,
        dry_run: false,
    })
}

fn action(external_id: &str, action: SyncAction) -> PlannedAction {
    PlannedAction {
        external_id: external_id.to_string(),
        action,
        fields: vec![],
    }
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

/// The new state of a hand-edited target record after its clash was handled.
struct ClashWrite {
    target_id: i64,
    source_property_id: i64,
    data: String,
    hash: String,
    synced_hash: String,
    base: Option<String>,
}

async fn resolve_clashes(
    tx: &DatabaseTransaction,
    policy: ConflictPolicy,
    clashes: &[Clash],
    stats: &mut SyncStats,
    plan: &mut Vec<PlannedAction>,
    drafts: &mut Vec<Draft>,
    writes: &mut Vec<ClashWrite>,
) -> AppResult<()> {
    let backend = tx.get_database_backend();
    let mut source_data: HashMap<i64, String> = HashMap::new();
    let mut target_data: HashMap<i64, (String, Option<String>)> = HashMap::new();
    for chunk in clashes.chunks(CHUNK) {
        let mut q = Sql::new(
            backend,
            "SELECT id, data FROM source_properties WHERE id IN ",
        );
        q.bind_list(chunk.iter().map(|c| c.source_id));
        for row in q.fetch_all(tx).await? {
            source_data.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }
        let mut q = Sql::new(
            backend,
            "SELECT id, data, base_data FROM target_properties WHERE id IN ",
        );
        q.bind_list(chunk.iter().map(|c| c.target_id));
        for row in q.fetch_all(tx).await? {
            target_data.insert(
                row.try_get_by_index(0)?,
                (row.try_get_by_index(1)?, row.try_get_by_index(2)?),
            );
        }
    }
    for c in clashes {
        let s_text = source_data.get(&c.source_id).cloned().unwrap_or_default();
        let (t_text, base_text) = target_data.get(&c.target_id).cloned().unwrap_or_default();
        let (s, t) = (parse_object(&s_text), parse_object(&t_text));
        // Without a recorded base every differing field counts as changed on both sides, so
        // nothing hand-edited is ever taken for unchanged.
        let base = base_text.as_deref().map(parse_object).unwrap_or_default();
        match policy {
            ConflictPolicy::Merge => {
                let outcome = three_way_merge(&base, &s, &t);
                let merged = Canonical::of(&Value::Object(outcome.merged));
                let fields: Vec<String> =
                    outcome.conflicts.iter().map(|f| f.field.clone()).collect();
                if merged.hash == Canonical::of(&Value::Object(t.clone())).hash {
                    stats.unchanged += 1;
                } else {
                    stats.updated += 1;
                }
                plan.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::Merge,
                    fields,
                });
                if !outcome.conflicts.is_empty() {
                    let names: Vec<&str> =
                        outcome.conflicts.iter().map(|f| f.field.as_str()).collect();
                    drafts.push(Draft {
                        kind: WarningKind::Conflict,
                        target_property_id: c.target_id,
                        external_id: c.external_id.clone(),
                        source_hash: Some(c.source_hash.clone()),
                        message: format!(
                            "{:?}: {} changed both in the source and by hand on the target; \
                             the target's values were kept",
                            c.external_id,
                            crate::domain::words::fields_in_words(&names)
                        ),
                        fields: outcome.conflicts,
                    });
                }
                let base = (merged.hash != c.source_hash).then(|| s_text.clone());
                writes.push(ClashWrite {
                    target_id: c.target_id,
                    source_property_id: c.source_id,
                    data: merged.text,
                    hash: merged.hash,
                    synced_hash: c.source_hash.clone(),
                    base,
                });
            }
            ConflictPolicy::KeepTarget => {
                stats.unchanged += 1;
                let fields = fields_of(differing_fields(&s, &t), &base);
                plan.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::KeepTarget,
                    fields: fields.iter().map(|f| f.field.clone()).collect(),
                });
                drafts.push(Draft {
                    kind: WarningKind::KeptTarget,
                    target_property_id: c.target_id,
                    external_id: c.external_id.clone(),
                    source_hash: Some(c.source_hash.clone()),
                    message: format!(
                        "{:?} changed in the source but was edited by hand on the target; the \
                         target was left as it is (conflict_policy keep_target)",
                        c.external_id
                    ),
                    fields,
                });
            }
            ConflictPolicy::Overwrite => {
                stats.updated += 1;
                let fields = fields_of(differing_fields(&s, &t), &base);
                plan.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::Overwrite,
                    fields: fields.iter().map(|f| f.field.clone()).collect(),
                });
                drafts.push(Draft {
                    kind: WarningKind::Overwritten,
                    target_property_id: c.target_id,
                    external_id: c.external_id.clone(),
                    source_hash: Some(c.source_hash.clone()),
                    message: format!(
                        "{:?}: manual edits on the target were overwritten by the source \
                         (conflict_policy overwrite); the previous version is in a snapshot and \
                         keep_target brings the edits back",
                        c.external_id
                    ),
                    fields,
                });
                writes.push(ClashWrite {
                    target_id: c.target_id,
                    source_property_id: c.source_id,
                    data: s_text.clone(),
                    hash: c.source_hash.clone(),
                    synced_hash: c.source_hash.clone(),
                    base: None,
                });
            }
        }
    }
    Ok(())
}

/// Which pairs may need work: the target record is missing or deleted while the source one
/// is live, the source one is deleted, or the target's synced hash differs from the source's.
const CANDIDATE: &str = "CASE WHEN t.id IS NULL OR t.deleted_at IS NOT NULL THEN s.deleted_at IS NULL \
     WHEN s.deleted_at IS NOT NULL THEN 1 = 1 ELSE COALESCE(t.synced_hash, '') <> s.hash END";

/// The pairs that may need work, and how many live pairs are already in sync (the source did
/// not change since the last sync). Deciding that in the database keeps a no-op sync from
/// reading every record; the candidates are read as aggregated pages.
async fn load_candidates(
    conn: &impl ConnectionTrait,
    source: SourceId,
    target: TargetId,
) -> AppResult<(Vec<(SourceRow, Option<TargetRow>)>, u64)> {
    const COLUMNS: [(&str, Sep); 9] = [
        ("sid", Sep::Comma),
        ("ext", Sep::Record),
        ("sh", Sep::Comma),
        ("sd", Sep::Nothing),
        ("tid", Sep::Comma),
        ("th", Sep::Comma),
        ("tsh", Sep::Comma),
        ("td", Sep::Nothing),
        ("tsp", Sep::Comma),
    ];
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let mut q = AggPage::select(backend, "sid", &COLUMNS);
        // `+s.source_id`: walk the primary key in order rather than the index plus a sort.
        q.push(
            "SELECT s.id AS sid, s.external_id AS ext, s.hash AS sh, \
             CASE WHEN s.deleted_at IS NULL THEN '0' ELSE '1' END AS sd, t.id AS tid, \
             t.hash AS th, t.synced_hash AS tsh, \
             CASE WHEN t.id IS NULL THEN '-' WHEN t.deleted_at IS NULL THEN '0' ELSE '1' END AS td, \
             t.source_property_id AS tsp FROM source_properties AS s \
             LEFT JOIN target_properties AS t ON t.target_id = ",
        )
        .bind(target.0)
        .push(" AND t.external_id = s.external_id WHERE +s.source_id = ")
        .bind(source.0)
        .push(" AND s.id > ")
        .bind(after)
        .push(&format!(
            " AND {CANDIDATE} ORDER BY s.id LIMIT {}) AS page", page_rows(backend)
        ));
        let Some(page) = AggPage::fetch(q, conn, COLUMNS.len()).await? else {
            break;
        };
        let Some(rows) = page.rows(COLUMNS.iter().map(|(_, sep)| *sep)) else {
            // An external id holding the separator: read row by row.
            out = load_candidate_rows(conn, source, target).await?;
            break;
        };
        out.reserve(page.rows);
        for v in rows {
            let source = SourceRow {
                id: agg::int(v[0])?.unwrap_or_default(),
                external_id: v[1].to_string(),
                hash: v[2].to_string(),
                deleted: v[3] == "1",
            };
            let target = match agg::int(v[4])? {
                None => None,
                Some(id) => Some(TargetRow {
                    id,
                    hash: v[5].to_string(),
                    synced_hash: (!v[6].is_empty()).then(|| v[6].to_string()),
                    deleted: v[7] == "1",
                    source_property_id: agg::int(v[8])?,
                }),
            };
            out.push((source, target));
        }
        if page.rows < page_rows(backend) {
            break;
        }
        after = page.max_key;
    }
    // Every live source record is either a candidate or in sync (a source record meets at
    // most one target record), so counting the live ones (an index-only count) is enough.
    let mut q = Sql::new(
        backend,
        "SELECT COUNT(*) FROM source_properties WHERE deleted_at IS NULL AND source_id = ",
    );
    q.bind(source.0);
    let live = match q.fetch_one(conn).await? {
        Some(row) => row.try_get_by_index::<i64>(0)? as u64,
        None => 0,
    };
    let live_candidates = out.iter().filter(|(s, _)| !s.deleted).count() as u64;
    let in_sync = live.saturating_sub(live_candidates);
    Ok((out, in_sync))
}

/// The candidates of `load_candidates`, one result row each.
async fn load_candidate_rows(
    conn: &impl ConnectionTrait,
    source: SourceId,
    target: TargetId,
) -> AppResult<Vec<(SourceRow, Option<TargetRow>)>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT s.id, s.external_id, s.hash, CASE WHEN s.deleted_at IS NULL THEN 0 ELSE 1 END, \
         t.id, t.hash, t.synced_hash, CASE WHEN t.deleted_at IS NULL THEN 0 ELSE 1 END, \
         t.source_property_id FROM source_properties AS s LEFT JOIN target_properties AS t \
         ON t.target_id = ",
    );
    q.bind(target.0)
        .push(" AND t.external_id = s.external_id WHERE s.source_id = ")
        .bind(source.0)
        .push(&format!(" AND {CANDIDATE} ORDER BY s.id"));
    let rows = q.fetch_all(conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let source = SourceRow {
            id: row.try_get_by_index(0)?,
            external_id: row.try_get_by_index(1)?,
            hash: row.try_get_by_index(2)?,
            deleted: row.try_get_by_index::<i32>(3)? != 0,
        };
        let target = match row.try_get_by_index::<Option<i64>>(4)? {
            None => None,
            Some(id) => Some(TargetRow {
                id,
                hash: row.try_get_by_index(5)?,
                synced_hash: row.try_get_by_index(6)?,
                deleted: row.try_get_by_index::<i32>(7)? != 0,
                source_property_id: row.try_get_by_index(8)?,
            }),
        };
        out.push((source, target));
    }
    Ok(out)
}
