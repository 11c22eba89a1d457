//! `source_properties.raw_hash`: the sha256 of the exact bytes an import last read for a record,
//! followed by the first 16 hex digits of the canonical hash those bytes had. A re-import finds
//! byte-identical records by it without parsing them; the hash prefix makes it self-checking,
//! so a later edit by any other path (which changes `hash`) simply voids it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SourceProperties {
    Table,
    RawHash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SourceProperties::Table)
                    .add_column(ColumnDef::new(SourceProperties::RawHash).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SourceProperties::Table)
                    .drop_column(SourceProperties::RawHash)
                    .to_owned(),
            )
            .await
    }
}
