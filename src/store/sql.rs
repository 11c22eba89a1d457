//! A small raw-SQL builder for the hot paths: writes `?` or `$n` placeholders for the backend,
//! so one statement text serves SQLite and PostgreSQL.
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

pub struct Sql {
    backend: DbBackend,
    sql: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend, sql: &str) -> Self {
        Sql {
            backend,
            sql: sql.to_string(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        if self.backend == DbBackend::Postgres {
            self.sql.push('$');
            self.sql.push_str(&self.values.len().to_string());
        } else {
            self.sql.push('?');
        }
        self
    }

    /// Appends `(p1, p2, …)`.
    pub fn bind_list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.sql.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self.sql.push(')');
        self
    }

    /// Appends a statement built by sea-orm (as a subquery), with its values. Only before any
    /// `bind`: its PostgreSQL placeholders are numbered from `$1`.
    pub fn push_built(&mut self, built: Statement) -> &mut Self {
        debug_assert!(self.values.is_empty(), "push_built after bind");
        self.sql.push_str(&built.sql);
        self.values
            .extend(built.values.map(|v| v.0).unwrap_or_default());
        self
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.sql, self.values)
    }

    pub async fn execute(self, conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
        Ok(conn.execute_raw(self.statement()).await?.rows_affected())
    }

    pub async fn fetch_all(self, conn: &impl ConnectionTrait) -> Result<Vec<QueryResult>, DbErr> {
        conn.query_all_raw(self.statement()).await
    }

    pub async fn fetch_one(
        self,
        conn: &impl ConnectionTrait,
    ) -> Result<Option<QueryResult>, DbErr> {
        conn.query_one_raw(self.statement()).await
    }
}

/// How many ids go into one `IN (…)` list or one multi-row statement chunk.
pub const CHUNK: usize = 500;
