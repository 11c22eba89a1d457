use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub status: String,
    pub source_id: Option<i64>,
    pub target_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub stats: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
    pub actor: String,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// The process that runs (ran) it: `pid:start@boot` (see `service::runs`).
    pub owner: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
