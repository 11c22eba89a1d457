//! Indexes that let counting a target's or source's live properties read only the index
//! (the `X-Total-Count` of property lists), not every row's data.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SourceProperties {
    Table,
    SourceId,
    DeletedAt,
}

#[derive(DeriveIden)]
enum TargetProperties {
    Table,
    TargetId,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_source_properties_live")
                    .table(SourceProperties::Table)
                    .col(SourceProperties::SourceId)
                    .col(SourceProperties::DeletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_target_properties_live")
                    .table(TargetProperties::Table)
                    .col(TargetProperties::TargetId)
                    .col(TargetProperties::DeletedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_target_properties_live")
                    .table(TargetProperties::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_source_properties_live")
                    .table(SourceProperties::Table)
                    .to_owned(),
            )
            .await
    }
}
