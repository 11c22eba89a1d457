use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "snapshots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub run_id: Option<i64>,
    /// `source` or `target`.
    pub property_kind: String,
    pub property_id: i64,
    /// The source or target the property belongs to.
    pub owner_id: i64,
    #[sea_orm(column_type = "Text")]
    pub external_id: String,
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub hash: String,
    pub synced_hash: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub base_data: Option<String>,
    pub source_property_id: Option<i64>,
    pub deleted_at: Option<DateTimeUtc>,
    pub reason: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
