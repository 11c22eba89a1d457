//! What the dashboard's pages show that no other use case reads: a tenant's overview (its
//! sources and targets with their record counts, open warnings by kind, the last runs), the
//! admin's list of tenants with their counts, and the records a run touched. Each is a few
//! indexed queries, never a read of every record.
use crate::domain::run::RunKind;
use crate::entity::{runs, sources, targets, tenants};
use crate::error::AppResult;
use crate::ids::{Owner, RunId, Side, SourceId, TargetId, TenantId};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// A tenant at a glance.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Each source with its live record count.
    pub sources: Vec<(sources::Model, u64)>,
    /// Each target with its live record count and how many of them were edited by hand.
    pub targets: Vec<(targets::Model, u64, u64)>,
    /// Open warnings by kind, most first.
    pub open_by_kind: Vec<(String, u64)>,
    /// The newest runs, newest first (at most 30: the chart's).
    pub runs: Vec<runs::Model>,
}

impl Overview {
    pub fn open_warnings(&self) -> u64 {
        self.open_by_kind.iter().map(|(_, n)| n).sum()
    }
}

/// How many runs the overview's chart shows.
pub const CHART_RUNS: u64 = 30;

async fn count(conn: &impl ConnectionTrait, q: Sql) -> AppResult<u64> {
    Ok(match q.fetch_one(conn).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
        None => 0,
    })
}

/// How many live records of a target were edited by hand since the last sync (the caller
/// checked that the target is the tenant's).
pub async fn manual_count(db: &DatabaseConnection, target: TargetId) -> AppResult<u64> {
    Ok(super::properties::manual_page(db, target, None, None, 0)
        .await?
        .1)
}

/// The overview of `tenant`.
pub async fn overview(db: &DatabaseConnection, tenant: TenantId) -> AppResult<Overview> {
    super::scope::get(db, tenant).await?;
    let backend = db.get_database_backend();
    let mut out = Overview {
        sources: Vec::new(),
        targets: Vec::new(),
        open_by_kind: Vec::new(),
        runs: Vec::new(),
    };
    for s in super::sources::list(db, tenant).await? {
        let live = super::properties::list_state(db, tenant, Owner::Source(SourceId(s.id)))
            .await?
            .live;
        out.sources.push((s, live));
    }
    for t in super::targets::list(db, tenant).await? {
        let live = super::properties::list_state(db, tenant, Owner::Target(TargetId(t.id)))
            .await?
            .live;
        let manual = manual_count(db, TargetId(t.id)).await?;
        out.targets.push((t, live, manual));
    }
    let mut q = Sql::new(
        backend,
        "SELECT kind, COUNT(*) FROM warnings WHERE status = 'open' AND tenant_id = ",
    );
    q.bind(tenant.0)
        .push(" GROUP BY kind ORDER BY COUNT(*) DESC, kind");
    for row in q.fetch_all(db).await? {
        out.open_by_kind.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index::<i64>(1)?.max(0) as u64,
        ));
    }
    out.runs = super::runs::list(db, tenant, CHART_RUNS, None).await?;
    Ok(out)
}

/// A tenant with its counts, for the admin.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub tenant: tenants::Model,
    pub sources: u64,
    pub targets: u64,
    /// Live records over all its sources and targets.
    pub records: u64,
    pub open_warnings: u64,
    pub last_run: Option<runs::Model>,
}

/// Every tenant with its counts.
pub async fn tenants(db: &DatabaseConnection) -> AppResult<Vec<TenantRow>> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for tenant in super::tenants::list(db).await? {
        let id = tenant.id;
        let counted = |sql: &str| {
            let mut q = Sql::new(backend, sql);
            q.bind(id);
            q
        };
        let sources = count(
            db,
            counted("SELECT COUNT(*) FROM sources WHERE tenant_id = "),
        )
        .await?;
        let targets = count(
            db,
            counted("SELECT COUNT(*) FROM targets WHERE tenant_id = "),
        )
        .await?;
        let mut records = 0;
        for s in super::sources::list(db, TenantId(id)).await? {
            records +=
                super::properties::list_state(db, TenantId(id), Owner::Source(SourceId(s.id)))
                    .await?
                    .live;
        }
        for t in super::targets::list(db, TenantId(id)).await? {
            records +=
                super::properties::list_state(db, TenantId(id), Owner::Target(TargetId(t.id)))
                    .await?
                    .live;
        }
        let open_warnings = count(
            db,
            counted("SELECT COUNT(*) FROM warnings WHERE status = 'open' AND tenant_id = "),
        )
        .await?;
        let last_run = runs::Entity::find()
            .filter(runs::Column::TenantId.eq(id))
            .order_by_desc(runs::Column::Id)
            .limit(1)
            .one(db)
            .await?;
        out.push(TenantRow {
            tenant,
            sources,
            targets,
            records,
            open_warnings,
            last_run,
        });
    }
    Ok(out)
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

/// Records a run touched, at most `limit` after the cursor `after` (a snapshot id for the
/// changed ones), and how many it touched in all: the records it changed (each one's first
/// snapshot of the run is its version before it), then, on the first page, the records it
/// created.
pub async fn touched(
    db: &DatabaseConnection,
    tenant: TenantId,
    run: RunId,
    limit: u64,
    after: Option<i64>,
) -> AppResult<(Vec<Touched>, u64, Option<i64>)> {
    let run = super::runs::get(db, tenant, run).await?;
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
    let mut total = count(db, q).await?;
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

/// The source or target a run or snapshot belongs to, by name, for links and titles.
pub async fn owner_name(
    db: &DatabaseConnection,
    tenant: TenantId,
    owner: Owner,
) -> AppResult<String> {
    match owner {
        Owner::Source(s) => Ok(super::sources::get(db, tenant, s).await?.name),
        Owner::Target(t) => Ok(super::targets::get(db, tenant, t).await?.name),
    }
}

/// When the newest run of a tenant finished, and what it changed: for empty states.
pub fn last_change(runs: &[runs::Model]) -> Option<(DateTime<Utc>, u64)> {
    let run = runs
        .iter()
        .find(|r| r.status == super::runs::STATUS_SUCCEEDED)?;
    let stats: serde_json::Value = serde_json::from_str(&run.stats).ok()?;
    let changed = ["created", "updated", "deleted", "restored"]
        .iter()
        .filter_map(|k| stats[k].as_u64())
        .sum();
    Some((run.finished_at.unwrap_or(run.started_at), changed))
}
