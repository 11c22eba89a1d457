//! Property lists: the queries of a source's or target's records by filter, read as one
//! aggregated row per page where they can be, the hand-edited records of a target through
//! their partial index, and records' titles.
use super::agg::{AggPage, Sep, int};
use super::sql::Sql;
use crate::domain::listing::{ListState, ListedProperty, PropertyFilter};
use crate::entity::{source_properties, target_properties};
use crate::error::AppResult;
use crate::ids::{Owner, SourceId, TargetId};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

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

/// A LIKE pattern of values starting with `prefix`, its own `%`, `_` and `\\` taken literally
/// (with `ESCAPE '\\'`).
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `external_id LIKE 'prefix%'`, with the prefix's own `%`, `_` and `\` taken literally.
pub fn starts_with(
    column: impl sea_orm::sea_query::IntoIden,
    prefix: &str,
) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(column).like(sea_orm::sea_query::LikeExpr::new(like_prefix(prefix)).escape('\\'))
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

/// The records of a source that `filter` selects (the caller checked the source).
pub async fn all_source(
    conn: &impl ConnectionTrait,
    source: SourceId,
    filter: &PropertyFilter,
) -> AppResult<Vec<source_properties::Model>> {
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

/// The records of a target that `filter` selects (the caller checked the target).
pub async fn all_target(
    conn: &impl ConnectionTrait,
    target: TargetId,
    filter: &PropertyFilter,
) -> AppResult<Vec<target_properties::Model>> {
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
            q.push(" AND external_id LIKE ")
                .bind(like_prefix(p))
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
    if filter.counts_all_live() {
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
