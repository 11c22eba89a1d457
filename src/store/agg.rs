//! Big reads as pages of aggregated text (one result row per page instead of one per record).
use super::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// How the values of one aggregated column are joined.
#[derive(Clone, Copy)]
pub enum Sep {
    /// `,`: numbers, hex hashes.
    Comma,
    /// Nothing: fixed-width values (one-character flags).
    Nothing,
    /// The ASCII record separator (0x1e): free text such as external ids.
    Record,
}

impl Sep {
    fn sql(self, backend: DbBackend) -> &'static str {
        match (self, backend) {
            (Sep::Comma, _) => "','",
            (Sep::Nothing, _) => "''",
            (Sep::Record, DbBackend::Postgres) => "chr(30)",
            (Sep::Record, _) => "char(30)",
        }
    }

    fn char(self) -> Option<char> {
        match self {
            Sep::Comma => Some(','),
            Sep::Nothing => None,
            Sep::Record => Some('\u{1e}'),
        }
    }
}

/// Big reads as pages of aggregated text: `SELECT count(*), max(key), agg(col1), …` over a
/// subquery `page` returning at most `page_rows` rows, one string per column with the rows'
/// values in the same order (NULL as ''). Decoding one result row per record costs far more
/// than the database's own work on such reads.
pub struct AggPage {
    pub rows: usize,
    pub max_key: i64,
    columns: Vec<String>,
}

/// Rows per aggregated page: 10,000 on SQLite (pages are cheap there and let the reading and
/// the taking-in overlap), 100,000 on PostgreSQL (where each page costs a scan of its own), or
/// `SYNC_MANAGER_PAGE_ROWS` (the tests use tiny pages so every paged read spans several).
pub fn page_rows(backend: DbBackend) -> usize {
    crate::config::tuning()
        .page_rows
        .unwrap_or(if backend == DbBackend::Postgres {
            100_000
        } else {
            10_000
        })
}

impl AggPage {
    /// `SELECT count(*), max(key), agg(c)… FROM (` — the caller appends the subquery (selecting
    /// `key` and every column, ordered by `key`, `LIMIT page_rows`) and `) AS page`.
    pub fn select(backend: DbBackend, key: &str, columns: &[(&str, Sep)]) -> Sql {
        let mut sql = format!("SELECT count(*), max({key})");
        for (column, sep) in columns {
            let sep = sep.sql(backend);
            if backend == DbBackend::Postgres {
                sql.push_str(&format!(
                    ", string_agg(coalesce({column}::text, ''), {sep})"
                ));
            } else {
                sql.push_str(&format!(", group_concat(coalesce({column}, ''), {sep})"));
            }
        }
        sql.push_str(" FROM (");
        Sql::new(backend, &sql)
    }

    /// Runs the query; `None` when the page is empty.
    pub async fn fetch(
        q: Sql,
        conn: &impl ConnectionTrait,
        n: usize,
    ) -> Result<Option<Self>, DbErr> {
        let Some(row) = q.fetch_one(conn).await? else {
            return Ok(None);
        };
        let rows: i64 = row.try_get_by_index(0)?;
        if rows == 0 {
            return Ok(None);
        }
        let max_key: i64 = row.try_get_by_index(1)?;
        let mut columns = Vec::with_capacity(n);
        for i in 0..n {
            let text: Option<String> = row.try_get_by_index(i + 2)?;
            columns.push(text.unwrap_or_default());
        }
        Ok(Some(AggPage {
            rows: rows as usize,
            max_key,
            columns,
        }))
    }

    /// The values of column `i`, or `None` if they do not split into one per row (a separator
    /// inside a value): the caller then reads the page row by row.
    pub fn column(&self, i: usize, sep: Sep) -> Option<Vec<&str>> {
        let text = self.columns[i].as_str();
        let values: Vec<&str> = match sep.char() {
            Some(c) => text.split(c).collect(),
            None => {
                if text.len() != self.rows || !text.is_ascii() {
                    return None;
                }
                (0..self.rows).map(|r| &text[r..r + 1]).collect()
            }
        };
        (values.len() == self.rows).then_some(values)
    }

    /// The page's rows, each holding one value per column (`seps`: the columns' separators),
    /// or `None` if a column does not split into one value per row (see `column`).
    pub fn rows(&self, seps: impl IntoIterator<Item = Sep>) -> Option<Vec<Vec<&str>>> {
        let columns = seps
            .into_iter()
            .enumerate()
            .map(|(i, sep)| self.column(i, sep))
            .collect::<Option<Vec<_>>>()?;
        let mut columns: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
        // Every column has one value per row (checked by `column`).
        Some(
            (0..self.rows)
                .map(|_| {
                    columns
                        .iter_mut()
                        .map(|c| c.next().unwrap_or_default())
                        .collect()
                })
                .collect(),
        )
    }
}

/// An integer of an aggregated column ('' for NULL).
pub fn int(text: &str) -> Result<Option<i64>, DbErr> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| DbErr::Type(format!("expected an integer, got {text:?}")))
}
