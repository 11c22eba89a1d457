use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `tenant:ID` or `admin`: whose keys these are.
    pub scope: String,
    pub tenant_id: Option<i64>,
    pub key: String,
    /// Method, path and query of the request.
    #[sea_orm(column_type = "Text")]
    pub request: String,
    /// sha256 of the request body, known once it was read whole.
    pub body_hash: Option<String>,
    /// The process answering the request (see `service::runs::this_process`).
    pub owner: String,
    pub heartbeat_at: DateTimeUtc,
    /// When the request's effect committed (written in the effect's transaction).
    pub sealed_at: Option<DateTimeUtc>,
    /// The response a retry is answered with, once stored.
    pub status: Option<i32>,
    pub content_type: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
