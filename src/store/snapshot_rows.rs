//! Snapshots' rows: copying records into them (inside the database, no round trip), putting
//! them back, and what a run wrote of each record.
use super::sql::{CHUNK, Sql};
use crate::db::now;
use crate::domain::rollback_plan::RunSnapshot;
use crate::domain::run::RunKind;
use crate::entity::runs;
use crate::error::AppResult;
use crate::ids::{RunId, Side, TenantId};
use sea_orm::ConnectionTrait;

/// The table of a side's records.
fn table(side: Side) -> &'static str {
    match side {
        Side::Source => "source_properties",
        Side::Target => "target_properties",
    }
}

/// Copies the current version of the given properties into `snapshots`, inside the database
/// (one statement per chunk, no data round-trip).
pub async fn snapshot_ids(
    conn: &impl ConnectionTrait,
    kind: Side,
    ids: &[i64],
    run: RunId,
    reason: &str,
) -> AppResult<()> {
    let at = now();
    for chunk in ids.chunks(CHUNK) {
        let mut q = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO snapshots (tenant_id, run_id, property_kind, property_id, owner_id, \
             external_id, data, hash, synced_hash, base_data, source_property_id, deleted_at, \
             reason, created_at) SELECT tenant_id, ",
        );
        q.bind(run.0).push(", ").bind(kind.as_str()).push(", id, ");
        q.push(match kind {
            Side::Source => {
                "source_id, external_id, data, hash, CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
                 CAST(NULL AS BIGINT), "
            }
            Side::Target => {
                "target_id, external_id, data, hash, synced_hash, base_data, source_property_id, "
            }
        });
        q.push("deleted_at, ").bind(reason).push(", ").bind(at);
        q.push(" FROM ").push(table(kind)).push(" WHERE id IN ");
        q.bind_list(chunk.iter().copied());
        q.execute(conn).await?;
    }
    Ok(())
}

/// Puts the state recorded in the given snapshots back onto their properties. A target also
/// gets back its sync bookkeeping (synced hash, merge base, link).
pub async fn apply_snapshots(
    conn: &impl ConnectionTrait,
    kind: Side,
    snapshot_ids: &[i64],
    run: RunId,
) -> AppResult<()> {
    let at = now();
    for chunk in snapshot_ids.chunks(CHUNK) {
        let mut q = Sql::new(conn.get_database_backend(), "UPDATE ");
        q.push(table(kind))
            .push(" SET data = s.data, hash = s.hash, deleted_at = s.deleted_at, run_id = ")
            .bind(run.0)
            .push(", updated_at = ")
            .bind(at);
        if kind == Side::Target {
            // The link comes back only to a source record that still exists (its source may
            // have been deleted since, which cleared the link).
            q.push(
                ", synced_hash = s.synced_hash, base_data = s.base_data, \
                 source_property_id = (SELECT sp.id FROM source_properties AS sp \
                 WHERE sp.id = s.source_property_id)",
            );
        }
        q.push(" FROM snapshots AS s WHERE s.id IN ")
            .bind_list(chunk.iter().copied())
            .push(" AND ")
            .push(table(kind))
            .push(".id = s.property_id");
        q.execute(conn).await?;
    }
    Ok(())
}

/// The snapshots run `run` wrote of `side`'s records, in the order it wrote them.
pub async fn of_run(
    conn: &impl ConnectionTrait,
    side: Side,
    run: RunId,
) -> AppResult<Vec<RunSnapshot>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT s.id, s.property_id, s.external_id, p.run_id, p.id FROM snapshots AS s LEFT JOIN ",
    );
    q.push(table(side))
        .push(" AS p ON p.id = s.property_id WHERE s.run_id = ")
        .bind(run.0)
        .push(" AND s.property_kind = ")
        .bind(side.as_str())
        .push(" ORDER BY s.id");
    let mut out = Vec::new();
    for row in q.fetch_all(conn).await? {
        out.push(RunSnapshot {
            snapshot_id: row.try_get_by_index(0)?,
            property_id: row.try_get_by_index(1)?,
            external_id: row.try_get_by_index(2)?,
            current_run: row.try_get_by_index(3)?,
            exists: row.try_get_by_index::<Option<i64>>(4)?.is_some(),
        });
    }
    Ok(out)
}

/// The records of `side` that run `run` created: (id, external id, the run that last wrote it).
pub async fn created_by(
    conn: &impl ConnectionTrait,
    side: Side,
    tenant: TenantId,
    run: RunId,
) -> AppResult<Vec<(i64, String, Option<i64>)>> {
    let mut q = Sql::new(
        conn.get_database_backend(),
        "SELECT id, external_id, run_id FROM ",
    );
    q.push(table(side))
        .push(" WHERE tenant_id = ")
        .bind(tenant.0)
        .push(" AND created_run_id = ")
        .bind(run.0)
        .push(" ORDER BY id");
    let mut out = Vec::new();
    for row in q.fetch_all(conn).await? {
        out.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
        ));
    }
    Ok(out)
}

/// Deletes these records of `side` (a rollback removing what its run created).
pub async fn delete_records(conn: &impl ConnectionTrait, side: Side, ids: &[i64]) -> AppResult<()> {
    for chunk in ids.chunks(CHUNK) {
        let mut q = Sql::new(conn.get_database_backend(), "DELETE FROM ");
        q.push(table(side))
            .push(" WHERE id IN ")
            .bind_list(chunk.iter().copied());
        q.execute(conn).await?;
    }
    Ok(())
}

/// What a run did to one record.
#[derive(Debug, Clone)]
pub struct Touched {
    /// `source` or `target`.
    pub property_kind: String,
    pub owner_id: i64,
    pub external_id: String,
    /// created, updated, deleted or restored.
    pub action: &'static str,
    /// The record's data before the run (`None`: the run created it) and after it.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Records a run touched (see `service::dashboard::touched`).
pub async fn touched(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    run: &runs::Model,
    limit: u64,
    after: Option<i64>,
) -> AppResult<(Vec<Touched>, u64, Option<i64>)> {
    let backend = db.get_database_backend();
    // The page's snapshots first, walking the run's index in id order (each record's first
    // snapshot of the run only), then their details for those rows alone.
    let mut q = Sql::new(backend, "SELECT s.id FROM snapshots s WHERE s.run_id = ");
    q.bind(run.id)
        .push(" AND s.tenant_id = ")
        .bind(tenant.0)
        .push(" AND s.id > ")
        .bind(after.unwrap_or(0))
        .push(
            " AND s.id = (SELECT MIN(f.id) FROM snapshots f WHERE f.run_id = s.run_id \
             AND f.property_kind = s.property_kind AND f.property_id = s.property_id) \
             ORDER BY s.id LIMIT ",
        )
        .bind(limit as i64);
    let mut ids = Vec::new();
    for row in q.fetch_all(db).await? {
        ids.push(row.try_get_by_index::<i64>(0)?);
    }
    // The version after the run: the next snapshot of the record, else the record as it is.
    let mut q = Sql::new(
        backend,
        "SELECT s.id, s.property_kind, s.owner_id, s.external_id, s.data, \
         CASE WHEN s.deleted_at IS NULL THEN 0 ELSE 1 END, \
         COALESCE((SELECT n.data FROM snapshots n WHERE n.property_kind = s.property_kind \
           AND n.property_id = s.property_id AND n.id > s.id ORDER BY n.id LIMIT 1), \
           tp.data, sp.data), \
         COALESCE((SELECT CASE WHEN n.deleted_at IS NULL THEN 0 ELSE 1 END FROM snapshots n \
           WHERE n.property_kind = s.property_kind AND n.property_id = s.property_id \
           AND n.id > s.id ORDER BY n.id LIMIT 1), \
           CASE WHEN COALESCE(tp.deleted_at, sp.deleted_at) IS NULL THEN 0 ELSE 1 END) \
         FROM snapshots s \
         LEFT JOIN target_properties tp ON s.property_kind = 'target' AND tp.id = s.property_id \
         LEFT JOIN source_properties sp ON s.property_kind = 'source' AND sp.id = s.property_id \
         WHERE s.id IN ",
    );
    if ids.is_empty() {
        q.push("(0)");
    } else {
        q.bind_list(ids.iter().copied());
    }
    q.push(" ORDER BY s.id");
    let mut out = Vec::new();
    let mut last = None;
    for row in q.fetch_all(db).await? {
        let id: i64 = row.try_get_by_index(0)?;
        let was_deleted = row.try_get_by_index::<i32>(5)? != 0;
        let is_deleted = row.try_get_by_index::<Option<i32>>(7)?.unwrap_or(0) != 0;
        last = Some(id);
        out.push(Touched {
            property_kind: row.try_get_by_index(1)?,
            owner_id: row.try_get_by_index(2)?,
            external_id: row.try_get_by_index(3)?,
            action: match (was_deleted, is_deleted) {
                (false, true) => "deleted",
                (true, false) => "restored",
                _ => "updated",
            },
            before: Some(row.try_get_by_index(4)?),
            after: row.try_get_by_index(6)?,
        });
    }
    // Records snapshotted twice in one run (an id twice in an import) count twice: rare.
    let mut q = Sql::new(backend, "SELECT COUNT(*) FROM snapshots WHERE run_id = ");
    q.bind(run.id);
    let mut total = match q.fetch_one(db).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
        None => 0,
    };
    // What the run created, as its stats say (created_run_id has no index: no count over
    // every record). An import creates source records, a sync target records.
    let stats: serde_json::Value = serde_json::from_str(&run.stats).unwrap_or_default();
    let created = stats["created"].as_u64().unwrap_or(0);
    total += created;
    let creates_on = RunKind::of(&run.kind).and_then(|k| k.creates_on(run.target_id.is_some()));
    for (table, side, owner) in [
        ("source_properties", Side::Source, "source_id"),
        ("target_properties", Side::Target, "target_id"),
    ] {
        let kind = side.as_str();
        let writes_here = creates_on == Some(side);
        let full_page = out.len() as u64 >= limit;
        if after.is_some() || full_page || created == 0 || !writes_here {
            continue;
        }
        let mut q = Sql::new(
            backend,
            &format!("SELECT {owner}, external_id, data FROM {table} WHERE created_run_id = "),
        );
        q.bind(run.id)
            .push(" AND tenant_id = ")
            .bind(tenant.0)
            .push(" ORDER BY id LIMIT ")
            .bind((limit - out.len() as u64) as i64);
        for row in q.fetch_all(db).await? {
            out.push(Touched {
                property_kind: kind.to_string(),
                owner_id: row.try_get_by_index(0)?,
                external_id: row.try_get_by_index(1)?,
                action: "created",
                before: None,
                after: Some(row.try_get_by_index(2)?),
            });
        }
    }
    let next = (out.len() as u64 >= limit).then_some(last).flatten();
    Ok((out, total, next))
}
