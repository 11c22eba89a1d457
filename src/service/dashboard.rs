//! What the dashboard's pages show that no other use case reads: a tenant's overview (its
//! sources and targets with their record counts, open warnings by kind, the last runs), the
//! admin's list of tenants with their counts, and the records a run touched. Each is a few
//! indexed queries, never a read of every record.
use crate::entity::{runs, sources, targets, tenants};
use crate::error::AppResult;
use crate::ids::{Owner, RunId, SourceId, TargetId, TenantId};
use crate::store::retention;
use crate::store::{snapshot_rows, warning_rows};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

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
    out.open_by_kind = warning_rows::open_by_kind(db, tenant).await?;
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
    let mut out = Vec::new();
    for tenant in super::tenants::list(db).await? {
        let id = tenant.id;
        let (sources, targets) = retention::endpoint_counts(db, TenantId(id)).await?;
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
        let open_warnings = warning_rows::open_count(db, TenantId(id)).await?;
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

pub use crate::store::snapshot_rows::Touched;

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
    snapshot_rows::touched(db, tenant, &run, limit, after).await
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
