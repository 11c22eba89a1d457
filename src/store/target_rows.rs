//! Target records as a sync reads and writes them: which pairs of source and target records
//! may need work (decided in SQL, read as aggregated pages), the data a clash is decided on,
//! and the writes of a plan (set-based statements; records are copied inside the database).
use super::agg::{self, AggPage, Sep, page_rows};
use super::snapshot_rows::snapshot_ids;
use super::sql::{CHUNK, Sql};
use crate::domain::sync_plan::{ClashTexts, SourceRow, SyncPlan, TargetRow, snapshotted};
use crate::entity::target_properties;
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, Side, SourceId, TargetId};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, Set};

/// Which pairs may need work: the target record is missing or deleted while the source one
/// is live, the source one is deleted, or the target's synced hash differs from the source's.
const CANDIDATE: &str = "CASE WHEN t.id IS NULL OR t.deleted_at IS NOT NULL THEN s.deleted_at IS NULL \
     WHEN s.deleted_at IS NOT NULL THEN 1 = 1 ELSE COALESCE(t.synced_hash, '') <> s.hash END";

/// The pairs that may need work, and how many live pairs are already in sync (the source did
/// not change since the last sync). Deciding that in the database keeps a no-op sync from
/// reading every record; the candidates are read as aggregated pages.
pub async fn load_candidates(
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

/// The data the plan's clashes are decided on (see `domain::sync_plan::resolve`).
pub async fn clash_texts(tx: &impl ConnectionTrait, plan: &SyncPlan) -> AppResult<ClashTexts> {
    let clashes = &plan.clashes;
    let backend = tx.get_database_backend();
    let mut texts = ClashTexts::default();
    for chunk in clashes.chunks(CHUNK) {
        let mut q = Sql::new(
            backend,
            "SELECT id, data FROM source_properties WHERE id IN ",
        );
        q.bind_list(chunk.iter().map(|c| c.source_id));
        for row in q.fetch_all(tx).await? {
            texts
                .source
                .insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }
        let mut q = Sql::new(
            backend,
            "SELECT id, data, base_data FROM target_properties WHERE id IN ",
        );
        q.bind_list(chunk.iter().map(|c| c.target_id));
        for row in q.fetch_all(tx).await? {
            texts.target.insert(
                row.try_get_by_index(0)?,
                (row.try_get_by_index(1)?, row.try_get_by_index(2)?),
            );
        }
    }
    Ok(texts)
}

/// Writes `plan` into `target` from `source` as run `run`, at `at`: new records copied from
/// their source records, the records it changes snapshotted first, then copied, deleted or
/// written as their clash was resolved. On PostgreSQL the new records are one statement whose
/// count is checked: a mismatch writes nothing (409).
pub async fn apply(
    tx: &DatabaseTransaction,
    source_id: SourceId,
    target_id: TargetId,
    run_id: RunId,
    at: DateTime<Utc>,
    plan: &SyncPlan,
) -> AppResult<()> {
    let backend = tx.get_database_backend();
    let creates = &plan.creates;
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
            q.execute(tx).await?;
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
        let created = q.execute(tx).await?;
        if created != creates.len() as u64 {
            return Err(AppError::Conflict(format!(
                "sync of source {source_id} to target {target_id}: expected to create {} \
                 records, created {created}; nothing was written, try again",
                creates.len()
            )));
        }
    }
    snapshot_ids(tx, Side::Target, &snapshotted(plan), run_id, "sync").await?;
    for chunk in plan.copies.chunks(CHUNK) {
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
        q.execute(tx).await?;
    }
    for chunk in plan.deletes.chunks(CHUNK) {
        let mut q = Sql::new(backend, "UPDATE target_properties SET deleted_at = ");
        q.bind(at)
            .push(", run_id = ")
            .bind(run_id.0)
            .push(", updated_at = ")
            .bind(at)
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().copied());
        q.execute(tx).await?;
    }
    for w in &plan.clash_writes {
        target_properties::ActiveModel {
            id: Set(w.target_id),
            data: Set(w.data.clone()),
            hash: Set(w.hash.clone()),
            synced_hash: Set(Some(w.synced_hash.clone())),
            base_data: Set(w.base.clone()),
            source_property_id: Set(Some(w.source_property_id)),
            last_synced_at: Set(Some(at)),
            run_id: Set(Some(run_id.0)),
            updated_at: Set(at),
            ..Default::default()
        }
        .update(tx)
        .await?;
    }
    Ok(())
}
