use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ui_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// sha256 (hex) of the session token; the token is only in the browser's cookie.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The API key the person logged in with (checked again on every request).
    pub key_id: i64,
    /// The tenant of that key; `None` for the admin key.
    pub tenant_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
