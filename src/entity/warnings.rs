use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "warnings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub run_id: Option<i64>,
    pub kind: String,
    pub source_id: Option<i64>,
    pub target_id: Option<i64>,
    pub target_property_id: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub external_id: Option<String>,
    pub source_hash: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_run_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
