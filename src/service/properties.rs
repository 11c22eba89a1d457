//! Properties: listing them, manual edits of target properties (JSON merge patch), and manual
//! entry on `manual` sources.
use super::runs::{self, RunKind};
use super::snapshots::snapshot_ids;
use super::{Actor, now};
use crate::domain::canonical::Canonical;
use crate::domain::drift::differs_from_sync;
use crate::domain::identity::{extract_external_id, storable_id};
use crate::domain::kinds::SourceKind;
use crate::domain::patch::merge_patch;
use crate::entity::{source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::Side;
use crate::ids::{RunId, SourceId, TargetId, TenantId};
use crate::store::locks::{self, Mode};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::Value;

/// Filters and paging of property lists (ordered by `external_id`).
#[derive(Debug, Clone, Default)]
pub struct PropertyFilter {
    /// Only target properties whose data differs from what the last sync wrote (or not).
    pub has_manual_changes: Option<bool>,
    /// Only properties updated at or after this instant, deleted ones included (a deletion is
    /// a change: a client polling for changes must hear of it).
    pub changed_since: Option<DateTime<Utc>>,
    /// Also list soft-deleted properties.
    pub include_deleted: bool,
    /// Only properties whose external id starts with this (the dashboard's search).
    pub prefix: Option<String>,
    /// Cursor: list properties whose external id sorts after this one.
    pub after: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: u64,
}

impl PropertyFilter {
    /// Soft-deleted properties are listed too: asked for, or a list of changes.
    pub fn lists_deleted(&self) -> bool {
        self.include_deleted || self.changed_since.is_some()
    }
}

/// Target property has hand edits: its hash differs from what the last sync wrote.
pub fn has_manual_changes(p: &target_properties::Model) -> bool {
    differs_from_sync(&p.hash, p.synced_hash.as_deref())
}

/// The merge base to keep after a non-sync change of a target property to `new_hash` (see
/// `domain::drift`).
pub(crate) fn base_after_manual_change(
    old: &target_properties::Model,
    new_hash: &str,
) -> Option<String> {
    crate::domain::drift::base_after_manual_change(
        &old.data,
        &old.hash,
        old.synced_hash.as_deref(),
        old.base_data.as_deref(),
        new_hash,
    )
}

/// What a property list shows of a record; a source's records leave the sync fields empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProperty {
    pub id: i64,
    /// The source or target it belongs to.
    pub owner_id: i64,
    pub external_id: String,
    pub source_property_id: Option<i64>,
    /// The stored (canonical) JSON text.
    pub data: String,
    pub hash: String,
    pub synced_hash: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl ListedProperty {
    /// Edited by hand since the last sync (see `has_manual_changes`).
    pub fn has_manual_changes(&self) -> bool {
        differs_from_sync(&self.hash, self.synced_hash.as_deref())
    }
}

impl From<source_properties::Model> for ListedProperty {
    fn from(m: source_properties::Model) -> Self {
        ListedProperty {
            id: m.id,
            owner_id: m.source_id,
            external_id: m.external_id,
            source_property_id: None,
            data: m.data,
            hash: m.hash,
            synced_hash: None,
            last_synced_at: None,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

impl From<target_properties::Model> for ListedProperty {
    fn from(m: target_properties::Model) -> Self {
        ListedProperty {
            id: m.id,
            owner_id: m.target_id,
            external_id: m.external_id,
            source_property_id: m.source_property_id,
            data: m.data,
            hash: m.hash,
            synced_hash: m.synced_hash,
            last_synced_at: m.last_synced_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

/// The columns of `ListedProperty` in a list page's query, in field order (`NULL` where a
/// source has no such column).
type Listed = [&'static str; 11];

const SOURCE_LISTED: Listed = [
    "id",
    "source_id",
    "external_id",
    "NULL",
    "data",
    "hash",
    "NULL",
    "NULL",
    "created_at",
    "updated_at",
    "deleted_at",
];

const TARGET_LISTED: Listed = [
    "id",
    "target_id",
    "external_id",
    "source_property_id",
    "data",
    "hash",
    "synced_hash",
    "last_synced_at",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// Reads a list page as one aggregated row (`AggPage`): the rows of a page otherwise come
/// back one by one through the driver, which costs more than the database's own work.
/// `None` when the page must be read row by row instead: a value holds the separator, or a
/// timestamp is not stored as RFC 3339 text.
async fn listed_page<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    page: sea_orm::Select<E>,
    listed: Listed,
) -> AppResult<Option<Vec<ListedProperty>>> {
    use crate::store::agg::{AggPage, Sep, int};
    use sea_orm::QueryTrait;
    let backend = conn.get_database_backend();
    let pg = backend == sea_orm::DbBackend::Postgres;
    const TIMES: std::ops::Range<usize> = 7..11;
    let mut inner = sea_orm::QuerySelect::select_only(page);
    for (i, column) in listed.iter().enumerate() {
        inner = inner.column_as(Expr::cust(*column), format!("c{i}"));
    }
    // PostgreSQL writes timestamps as RFC 3339 text only when told to.
    let outer: Vec<(String, Sep)> = (0..listed.len())
        .map(|i| match i {
            _ if TIMES.contains(&i) && pg && listed[i] != "NULL" => (
                format!(
                    "to_char(c{i} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
                ),
                Sep::Comma,
            ),
            2 | 4 => (format!("c{i}"), Sep::Record),
            _ => (format!("c{i}"), Sep::Comma),
        })
        .collect();
    let columns: Vec<(&str, Sep)> = outer.iter().map(|(c, s)| (c.as_str(), *s)).collect();
    let mut q = AggPage::select(backend, "c0", &columns);
    q.push_built(inner.build(backend)).push(") AS page");
    let Some(page) = AggPage::fetch(q, conn, columns.len()).await? else {
        return Ok(Some(Vec::new()));
    };
    let Some(rows) = page.rows(columns.iter().map(|(_, sep)| *sep)) else {
        return Ok(None);
    };
    let text = |v: &str| (!v.is_empty()).then(|| v.to_string());
    let time = |v: &str| -> Result<Option<DateTime<Utc>>, ()> {
        if v.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ())
    };
    let mut out = Vec::with_capacity(page.rows);
    for row in rows {
        let v = |i: usize| row[i];
        let (Ok(last_synced_at), Ok(Some(created_at)), Ok(Some(updated_at)), Ok(deleted_at)) =
            (time(v(7)), time(v(8)), time(v(9)), time(v(10)))
        else {
            return Ok(None);
        };
        out.push(ListedProperty {
            id: int(v(0))?.unwrap_or_default(),
            owner_id: int(v(1))?.unwrap_or_default(),
            external_id: v(2).to_string(),
            source_property_id: int(v(3))?,
            data: v(4).to_string(),
            hash: v(5).to_string(),
            synced_hash: text(v(6)),
            last_synced_at,
            created_at,
            updated_at,
            deleted_at,
        });
    }
    Ok(Some(out))
}

/// The tables of a kept live-property count (migration `m20261122_000004_live_counts`).
struct Counts {
    owners: &'static str,
    counts: &'static str,
    owner_id: &'static str,
}

const SOURCE_COUNTS: Counts = Counts {
    owners: "sources",
    counts: "source_live_counts",
    owner_id: "source_id",
};

const TARGET_COUNTS: Counts = Counts {
    owners: "targets",
    counts: "target_live_counts",
    owner_id: "target_id",
};

/// Where a source's or target's property list stands: how many live records it has and a
/// version that moves with every write to its records (both kept by the database's triggers,
/// migration `m20261122_000004_live_counts`). A list page read after the version was read
/// is at least that new, so it can be served again while the version stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListState {
    pub live: u64,
    pub version: (i64, i64),
}

pub use crate::ids::Owner;

impl Owner {
    fn counts(self) -> (Counts, i64) {
        match self {
            Owner::Source(s) => (SOURCE_COUNTS, s.0),
            Owner::Target(t) => (TARGET_COUNTS, t.0),
        }
    }
}

/// The list state of a source or target of the tenant (one indexed read; no count over the
/// records); not found when it is not the tenant's.
pub async fn list_state(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    owner: Owner,
) -> AppResult<ListState> {
    let (
        Counts {
            owners,
            counts,
            owner_id,
        },
        id,
    ) = owner.counts();
    let backend = conn.get_database_backend();
    let select = if backend == sea_orm::DbBackend::Postgres {
        "CAST(coalesce(sum(c.live), 0) AS BIGINT), count(c.id), CAST(coalesce(max(c.id), 0) AS BIGINT)"
    } else {
        "coalesce(sum(c.live), 0), count(c.version), coalesce(max(c.version), 0)"
    };
    let mut q = Sql::new(
        backend,
        &format!(
            "SELECT {select} FROM {owners} o LEFT JOIN {counts} c ON c.{owner_id} = o.id \
             WHERE o.id = "
        ),
    );
    q.bind(id).push(" AND o.tenant_id = ").bind(tenant.0);
    q.push(" GROUP BY o.id");
    let not_found = || match owner {
        Owner::Source(s) => AppError::not_found("source", s),
        Owner::Target(t) => AppError::not_found("target", t),
    };
    let row = q.fetch_one(conn).await?.ok_or_else(not_found)?;
    Ok(ListState {
        live: row.try_get_by_index::<i64>(0)?.max(0) as u64,
        version: (
            row.try_get_by_index::<i64>(1)?,
            row.try_get_by_index::<i64>(2)?,
        ),
    })
}

/// Sets the kept live count of the owner of newly inserted records and moves its version,
/// inside the inserting transaction. SQLite keeps no insert trigger (a row trigger costs ~15 %
/// of a bulk import); its writers are serialised, so a count within the transaction is exact.
/// PostgreSQL's statement triggers already counted the insert.
pub(crate) async fn recount_after_insert(
    conn: &impl ConnectionTrait,
    owner: Owner,
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    let (
        Counts {
            counts, owner_id, ..
        },
        id,
    ) = owner.counts();
    let props = match owner {
        Owner::Source(_) => "source_properties",
        Owner::Target(_) => "target_properties",
    };
    let mut q = Sql::new(
        backend,
        &format!(
            "UPDATE {counts} SET version = version + 1, live = (SELECT count(*) FROM {props} \
             WHERE {owner_id} = {id} AND deleted_at IS NULL) WHERE {owner_id} = "
        ),
    );
    q.bind(id);
    q.execute(conn).await?;
    Ok(())
}

/// Folds the kept-count rows of the tenant's sources and targets into one row per owner.
/// Only PostgreSQL appends rows (one per owner and writing statement); SQLite keeps one.
pub(crate) async fn fold_live_counts(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for Counts {
        owners,
        counts,
        owner_id,
    } in [SOURCE_COUNTS, TARGET_COUNTS]
    {
        let mut q = Sql::new(
            backend,
            &format!(
                "WITH gone AS (DELETE FROM {counts} c USING {owners} o \
                 WHERE c.{owner_id} = o.id AND o.tenant_id = "
            ),
        );
        q.bind(tenant.0).push(&format!(
            " RETURNING c.{owner_id} AS owner, c.live) \
             INSERT INTO {counts} ({owner_id}, live) \
             SELECT owner, sum(live) FROM gone GROUP BY owner"
        ));
        q.execute(conn).await?;
    }
    Ok(())
}

/// The filter lists every live property (so the kept count is its total).
fn counts_all_live(filter: &PropertyFilter) -> bool {
    !filter.include_deleted
        && filter.changed_since.is_none()
        && filter.has_manual_changes.is_none()
        && filter.prefix.is_none()
}

/// `external_id LIKE 'prefix%'`, with the prefix's own `%`, `_` and `\` taken literally.
pub(crate) fn starts_with(
    column: impl sea_orm::sea_query::IntoIden,
    prefix: &str,
) -> sea_orm::sea_query::SimpleExpr {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    use sea_orm::sea_query::ExprTrait;
    Expr::col(column).like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\'))
}

fn source_query(
    source: SourceId,
    filter: &PropertyFilter,
) -> sea_orm::Select<source_properties::Entity> {
    let mut q =
        source_properties::Entity::find().filter(source_properties::Column::SourceId.eq(source.0));
    if !filter.lists_deleted() {
        q = q.filter(source_properties::Column::DeletedAt.is_null());
    }
    if let Some(since) = filter.changed_since {
        q = q.filter(source_properties::Column::UpdatedAt.gte(since));
    }
    if let Some(prefix) = &filter.prefix {
        q = q.filter(starts_with(source_properties::Column::ExternalId, prefix));
    }
    q
}

pub async fn list_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    filter: &PropertyFilter,
) -> AppResult<Vec<source_properties::Model>> {
    super::sources::get(conn, tenant, source).await?;
    Ok(source_page_query(source, filter).all(conn).await?)
}

fn source_page_query(
    source: SourceId,
    filter: &PropertyFilter,
) -> sea_orm::Select<source_properties::Entity> {
    let mut q = source_query(source, filter);
    if let Some(after) = &filter.after {
        q = q.filter(source_properties::Column::ExternalId.gt(after.as_str()));
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit);
    }
    q.order_by_asc(source_properties::Column::ExternalId)
}

fn target_query(
    target: TargetId,
    filter: &PropertyFilter,
) -> sea_orm::Select<target_properties::Entity> {
    let mut q =
        target_properties::Entity::find().filter(target_properties::Column::TargetId.eq(target.0));
    if !filter.lists_deleted() {
        q = q.filter(target_properties::Column::DeletedAt.is_null());
    }
    if let Some(manual) = filter.has_manual_changes {
        let differs = Expr::cust("(synced_hash IS NULL OR hash <> synced_hash)");
        q = q.filter(if manual {
            differs
        } else {
            Expr::cust("(synced_hash IS NOT NULL AND hash = synced_hash)")
        });
    }
    if let Some(since) = filter.changed_since {
        q = q.filter(target_properties::Column::UpdatedAt.gte(since));
    }
    if let Some(prefix) = &filter.prefix {
        q = q.filter(starts_with(target_properties::Column::ExternalId, prefix));
    }
    q
}

pub async fn list_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    filter: &PropertyFilter,
) -> AppResult<Vec<target_properties::Model>> {
    super::targets::get(conn, tenant, target).await?;
    Ok(target_page_query(target, filter).all(conn).await?)
}

/// The live records of a target edited by hand, ordered by external id, after the cursor
/// `after` and starting with `prefix`, at most `limit`, and how many there are: read through
/// the partial index of those rows (migration 7), never over every record. SQLite is told to
/// use it (its planner, without statistics, prefers the index of all live records).
pub async fn manual_page(
    conn: &impl ConnectionTrait,
    target: TargetId,
    prefix: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> AppResult<(Vec<ListedProperty>, u64)> {
    let backend = conn.get_database_backend();
    let hint = if backend == sea_orm::DbBackend::Sqlite {
        " INDEXED BY idx_target_properties_manual"
    } else {
        ""
    };
    let filtered = |select: &str, with_cursor: bool| {
        let mut q = Sql::new(
            backend,
            &format!("{select} FROM target_properties{hint} WHERE target_id = "),
        );
        q.bind(target.0)
            .push(" AND deleted_at IS NULL AND (synced_hash IS NULL OR hash <> synced_hash)");
        if let Some(p) = prefix {
            let mut pattern = String::with_capacity(p.len() + 1);
            for c in p.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            q.push(" AND external_id LIKE ")
                .bind(pattern)
                .push(" ESCAPE '\\'");
        }
        if let (Some(a), true) = (after, with_cursor) {
            q.push(" AND external_id > ").bind(a.to_string());
        }
        q
    };
    let mut q = filtered("SELECT *", true);
    q.push(" ORDER BY external_id LIMIT ").bind(limit as i64);
    let rows = target_properties::Entity::find()
        .from_raw_sql(q.statement())
        .all(conn)
        .await?;
    let total = match filtered("SELECT COUNT(*)", false).fetch_one(conn).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?.max(0) as u64,
        None => 0,
    };
    Ok((rows.into_iter().map(Into::into).collect(), total))
}

/// One page of a source's or target's properties (cursor and limit of `filter`) and how many
/// match the filter in all.
pub async fn page(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    owner: Owner,
    filter: &PropertyFilter,
) -> AppResult<(Vec<ListedProperty>, u64)> {
    let state = list_state(conn, tenant, owner).await?;
    page_at(conn, owner, state, filter).await
}

/// `page`, for an owner whose `list_state` the caller has read (that read is also the check
/// that the owner is the tenant's).
pub async fn page_at(
    conn: &impl ConnectionTrait,
    owner: Owner,
    state: ListState,
    filter: &PropertyFilter,
) -> AppResult<(Vec<ListedProperty>, u64)> {
    let total = total_at(conn, owner, state, filter).await?;
    Ok((rows(conn, owner, filter).await?, total))
}

/// How many properties of `owner` match `filter`: the kept live count when the filter lists
/// every live record, else a count.
pub async fn total_at(
    conn: &impl ConnectionTrait,
    owner: Owner,
    state: ListState,
    filter: &PropertyFilter,
) -> AppResult<u64> {
    let all = match owner {
        Owner::Source(s) => source_query(s, filter).count(conn),
        Owner::Target(t) => target_query(t, filter).count(conn),
    };
    if counts_all_live(filter) {
        debug_assert_eq!(state.live, all.await?);
        Ok(state.live)
    } else {
        Ok(all.await?)
    }
}

/// The page of `owner`'s properties that `filter` selects (cursor and limit), as one
/// aggregated row when it can. The caller checked that the owner is the tenant's.
pub async fn rows(
    conn: &impl ConnectionTrait,
    owner: Owner,
    filter: &PropertyFilter,
) -> AppResult<Vec<ListedProperty>> {
    match owner {
        Owner::Source(s) => rows_of(conn, source_page_query(s, filter), SOURCE_LISTED).await,
        Owner::Target(t) => rows_of(conn, target_page_query(t, filter), TARGET_LISTED).await,
    }
}

async fn rows_of<E>(
    conn: &impl ConnectionTrait,
    page: sea_orm::Select<E>,
    listed: Listed,
) -> AppResult<Vec<ListedProperty>>
where
    E: EntityTrait,
    E::Model: Into<ListedProperty> + Sync,
{
    if let Some(rows) = listed_page(conn, page.clone(), listed).await? {
        return Ok(rows);
    }
    let rows = page.all(conn).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

fn target_page_query(
    target: TargetId,
    filter: &PropertyFilter,
) -> sea_orm::Select<target_properties::Entity> {
    let mut q = target_query(target, filter);
    if let Some(after) = &filter.after {
        q = q.filter(target_properties::Column::ExternalId.gt(after.as_str()));
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit);
    }
    q.order_by_asc(target_properties::Column::ExternalId)
}

/// The titles (`domain::title`) of records of `owner` by external id, for pages that name
/// records: those without a title are left out. The caller checked that the owner is the
/// tenant's.
pub async fn titles(
    conn: &impl ConnectionTrait,
    owner: Owner,
    external_ids: &[String],
) -> AppResult<std::collections::HashMap<String, String>> {
    use crate::domain::title::title_of_text;
    let mut out = std::collections::HashMap::new();
    for chunk in external_ids.chunks(500) {
        let ids = chunk.iter().cloned();
        let rows: Vec<(String, String)> = match owner {
            Owner::Source(s) => {
                source_properties::Entity::find()
                    .select_only()
                    .column(source_properties::Column::ExternalId)
                    .column(source_properties::Column::Data)
                    .filter(source_properties::Column::SourceId.eq(s.0))
                    .filter(source_properties::Column::ExternalId.is_in(ids))
                    .into_tuple()
                    .all(conn)
                    .await?
            }
            Owner::Target(t) => {
                target_properties::Entity::find()
                    .select_only()
                    .column(target_properties::Column::ExternalId)
                    .column(target_properties::Column::Data)
                    .filter(target_properties::Column::TargetId.eq(t.0))
                    .filter(target_properties::Column::ExternalId.is_in(ids))
                    .into_tuple()
                    .all(conn)
                    .await?
            }
        };
        for (external_id, data) in rows {
            if let Some(title) = title_of_text(&data) {
                out.insert(external_id, title);
            }
        }
    }
    Ok(out)
}

pub async fn get_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
) -> AppResult<source_properties::Model> {
    super::sources::get(conn, tenant, source).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

pub async fn get_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
) -> AppResult<target_properties::Model> {
    super::targets::get(conn, tenant, target).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    target_properties::Entity::find()
        .filter(target_properties::Column::TargetId.eq(target.0))
        .filter(target_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

/// For a single-record writer (see `locks`): takes the target's lock shared, then reads the
/// record with its row locked until `tx` ends.
async fn lock_target_record(
    tx: &DatabaseTransaction,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
) -> AppResult<target_properties::Model> {
    super::targets::get(tx, tenant, target).await?;
    locks::lock(tx, Owner::Target(target), Mode::Shared).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    target_properties::Entity::find()
        .filter(target_properties::Column::TargetId.eq(target.0))
        .filter(target_properties::Column::ExternalId.eq(external_id))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

/// `lock_target_record` for a source's record (whose source the caller checked).
async fn lock_source_record(
    tx: &DatabaseTransaction,
    source: SourceId,
    external_id: &str,
) -> AppResult<source_properties::Model> {
    locks::lock(tx, Owner::Source(source), Mode::Shared).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

/// Applies a merge patch of the property resource (`{"data": {...}}`; only `data` is
/// writable) to `current` data and returns the new data, keeping the record's identity.
fn patched_data(current: &str, patch: &Value, external_id: &str) -> AppResult<Value> {
    let Value::Object(fields) = patch else {
        return Err(AppError::invalid(
            "body",
            "must be a JSON object like {\"data\": {\"title\": \"New\"}}",
        ));
    };
    if let Some(other) = fields.keys().find(|k| k.as_str() != "data") {
        return Err(AppError::invalid(
            "patch",
            format!(
                "a patch must look like {{\"data\": {{...}}}}: the record's fields go inside \
                 \"data\" (send {{\"data\": {{{other:?}: …}}}}); only \"data\" is writable"
            ),
        ));
    }
    let mut data: Value =
        serde_json::from_str(current).unwrap_or(Value::Object(Default::default()));
    match fields.get("data") {
        None => {}
        Some(p @ Value::Object(_)) => merge_patch(&mut data, p),
        Some(_) => {
            return Err(AppError::invalid(
                "data",
                "must be a JSON object of the fields to set (null removes a field)",
            ));
        }
    }
    if let Ok(id) = extract_external_id(&data)
        && id != external_id
    {
        return Err(AppError::invalid(
            "data",
            format!("the record's id cannot be changed (it is {external_id:?})"),
        ));
    }
    Ok(data)
}

/// A manual edit of a target property: snapshots the old version, applies the merge patch,
/// recomputes the hash, and keeps the merge base so the next sync merges instead of
/// overwriting. Recorded as an `edit` run.
pub async fn patch_target(
    db: &DatabaseConnection,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
    patch: &Value,
    actor: &Actor,
) -> AppResult<(target_properties::Model, Option<RunId>)> {
    let tx = crate::db::begin_write(db).await?;
    let prop = lock_target_record(&tx, tenant, target, external_id).await?;
    if prop.deleted_at.is_some() {
        return Err(AppError::Conflict(format!(
            "property {external_id:?} was deleted; restore a snapshot first"
        )));
    }
    let data = patched_data(&prop.data, patch, external_id)?;
    let canonical = Canonical::of(&data);
    if canonical.hash == prop.hash {
        return Ok((prop, None));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, None, Some(target), actor).await?;
    snapshot_ids(&tx, Side::Target, &[prop.id], RunId(run.id), "manual edit").await?;
    let base = base_after_manual_change(&prop, &canonical.hash);
    let mut active: target_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.base_data = Set(base);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    let run_id = RunId(run.id);
    runs::finish(&tx, run, &serde_json::json!({"updated": 1}), None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok((updated, Some(run_id)))
}

async fn manual_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
) -> AppResult<()> {
    let model = super::sources::get(conn, tenant, source).await?;
    if model.kind != SourceKind::Manual.as_str() {
        return Err(AppError::Conflict(format!(
            "source {source} is of type {}; only sources of type manual accept manual entry \
             (import into it instead)",
            model.kind
        )));
    }
    Ok(())
}

/// Manual entry: creates one property on a `manual` source.
pub async fn create_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    record: &Value,
    actor: &Actor,
) -> AppResult<source_properties::Model> {
    let external_id =
        extract_external_id(record).map_err(|e| AppError::invalid("data", e.to_string()))?;
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    locks::lock(&tx, Owner::Source(source), Mode::Shared).await?;
    let existing = source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id.as_str()))
        .one(&tx)
        .await?;
    if existing.is_some() {
        return Err(AppError::Conflict(format!(
            "a property with id {external_id:?} already exists in source {source}; PATCH it instead"
        )));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    let canonical = Canonical::of(record);
    let at = now();
    let created = source_properties::ActiveModel {
        tenant_id: Set(tenant.0),
        source_id: Set(source.0),
        external_id: Set(external_id),
        data: Set(canonical.text),
        hash: Set(canonical.hash),
        created_run_id: Set(Some(run.id)),
        run_id: Set(Some(run.id)),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    recount_after_insert(&tx, Owner::Source(source)).await?;
    runs::finish(&tx, run, &serde_json::json!({"created": 1}), None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(created)
}

/// Manual edit (merge patch) of a property of a `manual` source.
pub async fn patch_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
    patch: &Value,
    actor: &Actor,
) -> AppResult<source_properties::Model> {
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    let prop = lock_source_record(&tx, source, external_id).await?;
    let data = patched_data(&prop.data, patch, external_id)?;
    let canonical = Canonical::of(&data);
    if canonical.hash == prop.hash && prop.deleted_at.is_none() {
        return Ok(prop);
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    snapshot_ids(&tx, Side::Source, &[prop.id], RunId(run.id), "manual edit").await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.deleted_at = Set(None);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    runs::finish(&tx, run, &serde_json::json!({"updated": 1}), None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Soft-deletes a property of a `manual` source (snapshotted first).
pub async fn delete_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
    actor: &Actor,
) -> AppResult<RunId> {
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    let prop = lock_source_record(&tx, source, external_id).await?;
    if prop.deleted_at.is_some() {
        return Err(AppError::not_found("property", external_id));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    let run_id = RunId(run.id);
    snapshot_ids(&tx, Side::Source, &[prop.id], run_id, "manual delete").await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.deleted_at = Set(Some(now()));
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    active.update(&tx).await?;
    runs::finish(&tx, run, &serde_json::json!({"deleted": 1}), None).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(run_id)
}
