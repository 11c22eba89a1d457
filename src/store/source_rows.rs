//! A source's records as an import reads and writes them: the index of what the source holds
//! (read as aggregated pages while the parser already reads the input), batches of new and
//! changed records written in multi-row statements (SQLite: 1,000 rows bound; PostgreSQL:
//! 5,000 rows as four arrays), the records a `full` import deletes.
use super::agg::{self, AggPage, Sep, page_rows};
use super::snapshot_rows::snapshot_ids;
use super::sql::{CHUNK, Sql};
use crate::db::now;
use crate::domain::canonical::{hex_lower, hex32, push_hex};
use crate::domain::import_index::{Index, KnownRaw, NO_SLOT, Written};
use crate::domain::import_plan::{Parsed, Pending};
use crate::error::AppResult;
use crate::ids::{RunId, Side, SourceId, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};

/// The columns `load_index` reads.
const INDEX_COLUMNS: [(&str, Sep); 5] = [
    ("id", Sep::Comma),
    ("external_id", Sep::Record),
    ("hash", Sep::Comma),
    (
        "CASE WHEN deleted_at IS NULL THEN '0' ELSE '1' END",
        Sep::Nothing,
    ),
    ("raw_hash", Sep::Comma),
];

/// Rows per multi-row upsert statement: SQLite binds four parameters a row (and allows
/// 32,766), PostgreSQL four arrays a statement, where fewer statements mean fewer round trips.
const WRITE_ROWS_SQLITE: usize = 1000;
const WRITE_ROWS_POSTGRES: usize = 5000;

/// The `raw_hash` column: the raw sha256 and the first 16 hex digits of the canonical hash.
fn raw_hash_column(raw: &[u8; 32], hash: &[u8; 32]) -> String {
    let mut text = Vec::with_capacity(80);
    push_hex(raw, &mut text);
    push_hex(&hash[..8], &mut text);
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// `raw_hash` for the PostgreSQL array insert: empty for none (turned into NULL there).
fn raw_column(record: &Parsed) -> String {
    record
        .raw
        .map(|raw| raw_hash_column(&raw, &record.hash))
        .unwrap_or_default()
}

/// Writes one import's records into its source, inside the import's transaction.
pub struct SourceWriter<'a> {
    tx: &'a DatabaseTransaction,
    backend: DbBackend,
    tenant: TenantId,
    source: SourceId,
    run: RunId,
    /// Whether a statement inserted rows (then the live count is recounted).
    inserted: bool,
    /// The id the next new row gets (SQLite, while `written` is noted): read once by
    /// `next_id`, then counted here, the transaction being the only writer. One query per
    /// batch instead was 100 round trips to the driver's thread in a new import of 100,000,
    /// each waiting for a core while the parser held one.
    next_row_id: Option<i64>,
}

impl<'a> SourceWriter<'a> {
    pub fn new(
        tx: &'a DatabaseTransaction,
        tenant: TenantId,
        source: SourceId,
        run: RunId,
    ) -> Self {
        SourceWriter {
            tx,
            backend: tx.get_database_backend(),
            tenant,
            source,
            run,
            inserted: false,
            next_row_id: None,
        }
    }

    /// Whether it inserted rows.
    pub fn inserted(&self) -> bool {
        self.inserted
    }

    /// Records a batch holds before it is written.
    pub fn write_rows(&self) -> usize {
        if self.backend == DbBackend::Postgres {
            WRITE_ROWS_POSTGRES
        } else {
            WRITE_ROWS_SQLITE
        }
    }

    /// Reads the source's records (id, external id, hash, deleted, raw hash) as aggregated
    /// pages, each fetched while the one before is taken in; returns the raw-bytes hashes of
    /// the live records that are still valid.
    pub async fn load_index(&self, index: &mut Index) -> AppResult<KnownRaw> {
        let (tx, backend, source) = (self.tx, self.backend, self.source);
        let fetch = async move |after: i64| {
            let mut q = AggPage::select(backend, "id", &INDEX_COLUMNS);
            // `+source_id`: walking the primary key in order beats SQLite's choice of the
            // source_id index plus a sort.
            q.push(
                "SELECT id, external_id, hash, deleted_at, raw_hash FROM source_properties \
                 WHERE +source_id = ",
            )
            .bind(source.0)
            .push(" AND id > ")
            .bind(after)
            .push(&format!(
                " ORDER BY id LIMIT {}) AS page",
                page_rows(backend)
            ));
            AggPage::fetch(q, tx, INDEX_COLUMNS.len()).await
        };
        let mut known = KnownRaw::default();
        let mut page = fetch(0).await?;
        while let Some(current) = page {
            let next = async {
                if current.rows < page_rows(backend) {
                    Ok(None)
                } else {
                    fetch(current.max_key).await
                }
            };
            let (next, taken) =
                tokio::join!(next, async { remember_page(index, &current, &mut known) });
            if !taken? {
                // An id holding the separator: read row by row.
                index.clear();
                return self.load_index_rows(index).await;
            }
            page = next?;
        }
        Ok(known)
    }

    /// `load_index` one row at a time.
    async fn load_index_rows(&self, index: &mut Index) -> AppResult<KnownRaw> {
        let mut q = Sql::new(
            self.backend,
            "SELECT id, external_id, hash, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, \
             raw_hash FROM source_properties WHERE source_id = ",
        );
        q.bind(self.source.0);
        let rows = q.fetch_all(self.tx).await?;
        index.reserve(rows.len());
        let mut known = KnownRaw::with_capacity_and_hasher(rows.len(), Default::default());
        for row in rows {
            let id: i64 = row.try_get_by_index(0)?;
            let external_id: String = row.try_get_by_index(1)?;
            let hash_hex: String = row.try_get_by_index(2)?;
            let deleted: i32 = row.try_get_by_index(3)?;
            let raw_hash: Option<String> = row.try_get_by_index(4)?;
            let raw_hash = raw_hash.unwrap_or_default();
            remember(
                index,
                id,
                &external_id,
                &hash_hex,
                deleted != 0,
                &raw_hash,
                &mut known,
            );
        }
        Ok(known)
    }

    /// Writes a batch (`Planner::take_batch`): the stored versions it changes snapshotted
    /// first, new ids by plain `INSERT`, the others by upsert, in multi-row statements. While
    /// `written` is noted, new rows' ids go there (SQLite's given here, PostgreSQL's read back
    /// through `index`).
    pub async fn write(
        &mut self,
        batch: Vec<Pending>,
        index: &Index,
        mut written: Option<&mut Written>,
    ) -> AppResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.inserted = true;
        let to_snapshot: Vec<i64> = batch.iter().filter_map(|p| p.snapshot).collect();
        snapshot_ids(self.tx, Side::Source, &to_snapshot, self.run, "import").await?;
        let at = now();
        let (tenant, source, run) = (self.tenant.0, self.source.0, self.run.0);
        let (fresh, known): (Vec<Pending>, Vec<Pending>) = batch.into_iter().partition(|p| p.fresh);
        for (mut rest, upsert) in [(fresh, false), (known, true)] {
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(self.write_rows()));
                let rows = std::mem::replace(&mut rest, tail);
                // New rows' ids, for the index kept after the import: SQLite's are given here
                // (see `next_id`), PostgreSQL's come back from `RETURNING`.
                let mut next_id = match (upsert, self.backend, &written) {
                    (false, DbBackend::Sqlite, Some(_)) => Some(match self.next_row_id {
                        Some(id) => id,
                        None => self.next_id().await?,
                    }),
                    _ => None,
                };
                let id_column = if next_id.is_some() { "id, " } else { "" };
                // The ids are integers of ours, written inline; the record columns are bound.
                let mut q = Sql::new(
                    self.backend,
                    &format!(
                        "INSERT INTO source_properties ({id_column}tenant_id, source_id, \
                     external_id, data, hash, raw_hash, created_run_id, run_id, created_at, \
                     updated_at) SELECT {}{tenant}, {source}, ",
                        if next_id.is_some() { "v.column5, " } else { "" }
                    ),
                );
                if self.backend == DbBackend::Postgres {
                    // Four array parameters instead of four per row.
                    let mut columns: [Vec<sea_orm::Value>; 4] = Default::default();
                    for p in rows {
                        let r = p.record;
                        columns[2].push(hex_lower(&r.hash).into());
                        columns[3].push(raw_column(&r).into());
                        columns[0].push(r.external_id.into());
                        columns[1].push(r.text.into());
                    }
                    q.push("u.e, u.d, u.h, NULLIF(u.r, ''), ");
                    q.push(&format!("{run}, {run}, "))
                        .bind(at)
                        .push(", ")
                        .bind(at)
                        .push(" FROM UNNEST(");
                    for (i, values) in columns.into_iter().enumerate() {
                        q.push(if i == 0 { "" } else { ", " })
                            .bind(sea_orm::Value::Array(
                                sea_orm::sea_query::ArrayType::String,
                                Some(Box::new(values)),
                            ))
                            .push("::text[]");
                    }
                    q.push(") AS u(e, d, h, r)");
                } else {
                    q.push("v.column1, v.column2, v.column3, v.column4, ")
                        .push(&format!("{run}, {run}, "))
                        .bind(at)
                        .push(", ")
                        .bind(at)
                        .push(" FROM (VALUES ");
                    for (i, p) in rows.into_iter().enumerate() {
                        let r = p.record;
                        let raw = r.raw.map(|raw| raw_hash_column(&raw, &r.hash));
                        let slot = (p.slot != NO_SLOT).then_some(p.slot);
                        q.push(if i == 0 { "(" } else { ", (" })
                            .bind(r.external_id)
                            .push(", ")
                            .bind(r.text)
                            .push(", ")
                            .bind(hex_lower(&r.hash))
                            .push(", ")
                            .bind(raw);
                        if let (Some(id), Some(slot), Some(written)) =
                            (next_id.as_mut(), slot, written.as_deref_mut())
                        {
                            // Bound, not inline: the statement's text stays the same, so
                            // the driver's prepared statement is used again.
                            q.push(", ").bind(*id);
                            written.created.push((slot, *id));
                            *id += 1;
                        }
                        q.push(")");
                    }
                    // `WHERE true`: SQLite's reading of an upsert after a SELECT needs it.
                    q.push(") AS v WHERE true");
                    if next_id.is_some() {
                        self.next_row_id = next_id;
                    }
                }
                if upsert {
                    q.push(
                        " ON CONFLICT (source_id, external_id) DO UPDATE SET data = excluded.data, \
                     hash = excluded.hash, raw_hash = excluded.raw_hash, run_id = excluded.run_id, \
                     updated_at = excluded.updated_at, deleted_at = NULL",
                    );
                    q.execute(self.tx).await?;
                } else if written.is_some() && next_id.is_none() {
                    q.push(" RETURNING id, external_id");
                    for row in q.fetch_all(self.tx).await? {
                        let id: i64 = row.try_get_by_index(0)?;
                        let external_id: String = row.try_get_by_index(1)?;
                        if let (Some(slot), Some(written)) =
                            (index.find(&external_id), written.as_deref_mut())
                        {
                            written.created.push((slot, id));
                        }
                    }
                } else {
                    q.execute(self.tx).await?;
                }
            }
        }
        Ok(())
    }

    /// The id the next new row gets, when the import gives new rows their ids itself (SQLite):
    /// one more than any the table ever had, as `AUTOINCREMENT` would choose, and the next
    /// ones after it, since this transaction is the only writer (`BEGIN IMMEDIATE`). Giving
    /// them here is free; reading them back with `RETURNING` costs ~5 µs a row in the driver
    /// (half an import of 100,000 new records). Inserting an id above the table's sequence
    /// moves the sequence, so later inserts go on after it.
    async fn next_id(&self) -> AppResult<i64> {
        let q = Sql::new(
            self.backend,
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = \
             'source_properties'), 0), coalesce((SELECT max(id) FROM source_properties), 0))",
        );
        let row = q.fetch_one(self.tx).await?;
        let last: i64 = match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(last + 1)
    }

    /// Soft-deletes the records a `full` import did not mention (snapshotted first).
    pub async fn soft_delete(&mut self, ids: &[i64]) -> AppResult<()> {
        snapshot_ids(self.tx, Side::Source, ids, self.run, "import").await?;
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

/// Takes in one page of `load_index`; false if it does not split into rows.
fn remember_page(index: &mut Index, page: &AggPage, known: &mut KnownRaw) -> AppResult<bool> {
    let (Some(ids), Some(external_ids), Some(hashes), Some(deleted), Some(raws)) = (
        page.column(0, Sep::Comma),
        page.column(1, Sep::Record),
        page.column(2, Sep::Comma),
        page.column(3, Sep::Nothing),
        page.column(4, Sep::Comma),
    ) else {
        return Ok(false);
    };
    index.reserve(page.rows);
    known.reserve(page.rows);
    for (i, id) in ids.into_iter().enumerate() {
        let id = agg::int(id)?.unwrap_or_default();
        remember(
            index,
            id,
            external_ids[i],
            hashes[i],
            deleted[i] == "1",
            raws[i],
            known,
        );
    }
    Ok(true)
}

fn remember(
    index: &mut Index,
    id: i64,
    external_id: &str,
    hash_hex: &str,
    deleted: bool,
    raw_hash: &str,
    known: &mut KnownRaw,
) {
    // A hash that is not 64 hex digits never equals a computed one.
    let hash = hex32(hash_hex.as_bytes()).unwrap_or([0; 32]);
    let slot = index.remember(external_id, id, hash, deleted);
    let (raw_hash, hash_hex) = (raw_hash.as_bytes(), hash_hex.as_bytes());
    if !deleted
        && raw_hash.len() == 80
        && hash_hex.len() == 64
        && raw_hash[64..] == hash_hex[..16]
        && let Some(raw) = hex32(&raw_hash[..64])
    {
        known.insert(raw, slot);
    }
}
