use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "target_properties")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub target_id: i64,
    #[sea_orm(column_type = "Text")]
    pub external_id: String,
    pub source_property_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub hash: String,
    pub synced_hash: Option<String>,
    /// What the last sync wrote, stored only while it differs from `data` (a hand-edited record).
    #[sea_orm(column_type = "Text", nullable)]
    pub base_data: Option<String>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub created_run_id: Option<i64>,
    pub run_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
