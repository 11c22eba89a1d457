use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub key: String,
    /// The operation and its parameters, as the service words them.
    #[sea_orm(column_type = "Text")]
    pub request: String,
    /// sha256 of a streamed body, known once it was read whole.
    pub body_hash: Option<String>,
    /// The run of a long operation that claimed the key.
    pub run_id: Option<i64>,
    /// The outcome (JSON) a retry is answered with; `None` while the first request runs.
    #[sea_orm(column_type = "Text", nullable)]
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
