//! The initial schema: tenants, keys, sources, targets, their properties, snapshots, runs, warnings.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    RetentionDays,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    IsAdmin,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    Config,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Targets {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    Config,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SourceProperties {
    Table,
    Id,
    TenantId,
    SourceId,
    ExternalId,
    Data,
    Hash,
    CreatedRunId,
    RunId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum TargetProperties {
    Table,
    Id,
    TenantId,
    TargetId,
    ExternalId,
    SourcePropertyId,
    Data,
    Hash,
    SyncedHash,
    BaseData,
    LastSyncedAt,
    CreatedRunId,
    RunId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Snapshots {
    Table,
    Id,
    TenantId,
    RunId,
    PropertyKind,
    PropertyId,
    OwnerId,
    ExternalId,
    Data,
    Hash,
    SyncedHash,
    BaseData,
    SourcePropertyId,
    DeletedAt,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    TenantId,
    Kind,
    Status,
    SourceId,
    TargetId,
    Stats,
    Detail,
    Actor,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Warnings {
    Table,
    Id,
    TenantId,
    RunId,
    Kind,
    SourceId,
    TargetId,
    TargetPropertyId,
    ExternalId,
    SourceHash,
    Message,
    Details,
    Status,
    Resolution,
    ResolvedRunId,
    CreatedAt,
    ResolvedAt,
}

fn fk_tenant(table: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("tenant_id"))
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(big_pk_auto(Tenants::Id))
                    .col(string(Tenants::Name))
                    .col(integer(Tenants::RetentionDays).default(30))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(big_integer_null(ApiKeys::TenantId))
                    .col(boolean(ApiKeys::IsAdmin).default(false))
                    .col(string(ApiKeys::Name))
                    .col(string_uniq(ApiKeys::Prefix))
                    .col(string_uniq(ApiKeys::KeyHash))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut fk_tenant(ApiKeys::Table))
                    .to_owned(),
            )
            .await?;

        for (table, id, tenant, name, kind, config, created, updated) in [
            (
                Sources::Table.into_iden(),
                Sources::Id.into_iden(),
                Sources::TenantId.into_iden(),
                Sources::Name.into_iden(),
                Sources::Kind.into_iden(),
                Sources::Config.into_iden(),
                Sources::CreatedAt.into_iden(),
                Sources::UpdatedAt.into_iden(),
            ),
            (
                Targets::Table.into_iden(),
                Targets::Id.into_iden(),
                Targets::TenantId.into_iden(),
                Targets::Name.into_iden(),
                Targets::Kind.into_iden(),
                Targets::Config.into_iden(),
                Targets::CreatedAt.into_iden(),
                Targets::UpdatedAt.into_iden(),
            ),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table.clone())
                        .col(big_pk_auto(id))
                        .col(big_integer(tenant.clone()))
                        .col(string(name))
                        .col(string(kind))
                        .col(text(config))
                        .col(timestamp_with_time_zone(created))
                        .col(timestamp_with_time_zone(updated))
                        .foreign_key(&mut fk_tenant(table.clone()))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{table}_tenant"))
                        .table(table)
                        .col(tenant)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SourceProperties::Table)
                    .col(big_pk_auto(SourceProperties::Id))
                    .col(big_integer(SourceProperties::TenantId))
                    .col(big_integer(SourceProperties::SourceId))
                    .col(text(SourceProperties::ExternalId))
                    .col(text(SourceProperties::Data))
                    .col(string(SourceProperties::Hash))
                    .col(big_integer_null(SourceProperties::CreatedRunId))
                    .col(big_integer_null(SourceProperties::RunId))
                    .col(timestamp_with_time_zone(SourceProperties::CreatedAt))
                    .col(timestamp_with_time_zone(SourceProperties::UpdatedAt))
                    .col(timestamp_with_time_zone_null(SourceProperties::DeletedAt))
                    .foreign_key(&mut fk_tenant(SourceProperties::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SourceProperties::Table, SourceProperties::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_source_properties_source_external")
                    .table(SourceProperties::Table)
                    .col(SourceProperties::SourceId)
                    .col(SourceProperties::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TargetProperties::Table)
                    .col(big_pk_auto(TargetProperties::Id))
                    .col(big_integer(TargetProperties::TenantId))
                    .col(big_integer(TargetProperties::TargetId))
                    .col(text(TargetProperties::ExternalId))
                    .col(big_integer_null(TargetProperties::SourcePropertyId))
                    .col(text(TargetProperties::Data))
                    .col(string(TargetProperties::Hash))
                    .col(string_null(TargetProperties::SyncedHash))
                    .col(text_null(TargetProperties::BaseData))
                    .col(timestamp_with_time_zone_null(
                        TargetProperties::LastSyncedAt,
                    ))
                    .col(big_integer_null(TargetProperties::CreatedRunId))
                    .col(big_integer_null(TargetProperties::RunId))
                    .col(timestamp_with_time_zone(TargetProperties::CreatedAt))
                    .col(timestamp_with_time_zone(TargetProperties::UpdatedAt))
                    .col(timestamp_with_time_zone_null(TargetProperties::DeletedAt))
                    .foreign_key(&mut fk_tenant(TargetProperties::Table))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TargetProperties::Table, TargetProperties::TargetId)
                            .to(Targets::Table, Targets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TargetProperties::Table, TargetProperties::SourcePropertyId)
                            .to(SourceProperties::Table, SourceProperties::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_target_properties_target_external")
                    .table(TargetProperties::Table)
                    .col(TargetProperties::TargetId)
                    .col(TargetProperties::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Snapshots::Table)
                    .col(big_pk_auto(Snapshots::Id))
                    .col(big_integer(Snapshots::TenantId))
                    .col(big_integer_null(Snapshots::RunId))
                    .col(string(Snapshots::PropertyKind))
                    .col(big_integer(Snapshots::PropertyId))
                    .col(big_integer(Snapshots::OwnerId))
                    .col(text(Snapshots::ExternalId))
                    .col(text(Snapshots::Data))
                    .col(string(Snapshots::Hash))
                    .col(string_null(Snapshots::SyncedHash))
                    .col(text_null(Snapshots::BaseData))
                    .col(big_integer_null(Snapshots::SourcePropertyId))
                    .col(timestamp_with_time_zone_null(Snapshots::DeletedAt))
                    .col(string(Snapshots::Reason))
                    .col(timestamp_with_time_zone(Snapshots::CreatedAt))
                    .foreign_key(&mut fk_tenant(Snapshots::Table))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_snapshots_property",
                vec![Snapshots::PropertyKind, Snapshots::PropertyId],
            ),
            ("idx_snapshots_run", vec![Snapshots::RunId]),
            (
                "idx_snapshots_tenant_created",
                vec![Snapshots::TenantId, Snapshots::CreatedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Snapshots::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .col(big_pk_auto(Runs::Id))
                    .col(big_integer(Runs::TenantId))
                    .col(string(Runs::Kind))
                    .col(string(Runs::Status))
                    .col(big_integer_null(Runs::SourceId))
                    .col(big_integer_null(Runs::TargetId))
                    .col(text(Runs::Stats))
                    .col(text_null(Runs::Detail))
                    .col(string(Runs::Actor))
                    .col(timestamp_with_time_zone(Runs::StartedAt))
                    .col(timestamp_with_time_zone_null(Runs::FinishedAt))
                    .foreign_key(&mut fk_tenant(Runs::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_runs_tenant")
                    .table(Runs::Table)
                    .col(Runs::TenantId)
                    .col(Runs::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Warnings::Table)
                    .col(big_pk_auto(Warnings::Id))
                    .col(big_integer(Warnings::TenantId))
                    .col(big_integer_null(Warnings::RunId))
                    .col(string(Warnings::Kind))
                    .col(big_integer_null(Warnings::SourceId))
                    .col(big_integer_null(Warnings::TargetId))
                    .col(big_integer_null(Warnings::TargetPropertyId))
                    .col(text_null(Warnings::ExternalId))
                    .col(string_null(Warnings::SourceHash))
                    .col(text(Warnings::Message))
                    .col(text(Warnings::Details))
                    .col(string(Warnings::Status))
                    .col(string_null(Warnings::Resolution))
                    .col(big_integer_null(Warnings::ResolvedRunId))
                    .col(timestamp_with_time_zone(Warnings::CreatedAt))
                    .col(timestamp_with_time_zone_null(Warnings::ResolvedAt))
                    .foreign_key(&mut fk_tenant(Warnings::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_warnings_tenant_status")
                    .table(Warnings::Table)
                    .col(Warnings::TenantId)
                    .col(Warnings::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_warnings_target_property")
                    .table(Warnings::Table)
                    .col(Warnings::TargetPropertyId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Warnings::Table.into_iden(),
            Runs::Table.into_iden(),
            Snapshots::Table.into_iden(),
            TargetProperties::Table.into_iden(),
            SourceProperties::Table.into_iden(),
            Targets::Table.into_iden(),
            Sources::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
