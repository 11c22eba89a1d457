//! Runs recorded from their start, and idempotent retries.
//!
//! * `runs.owner`: which process runs an operation (`pid:start@boot` of its machine), recorded
//!   when the run row is written in its own commit before the work; a later process marks a
//!   run whose owner is gone as failed ("interrupted"). Plus an index on running runs.
//! * `idempotency_keys`: one row per scope (a tenant, or the admin) and `Idempotency-Key`: what
//!   the request was, which process runs it (and, on PostgreSQL, its heartbeat), when its
//!   effect committed (`sealed_at`, written in the effect's own transaction) and the response a
//!   retry gets replayed.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Owner,
    Status,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Scope,
    TenantId,
    Key,
    Request,
    BodyHash,
    Owner,
    HeartbeatAt,
    SealedAt,
    Status,
    ContentType,
    Response,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::Owner).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_runs_status")
                    .table(Runs::Table)
                    .col(Runs::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(big_pk_auto(IdempotencyKeys::Id))
                    .col(string(IdempotencyKeys::Scope))
                    .col(big_integer_null(IdempotencyKeys::TenantId))
                    .col(string(IdempotencyKeys::Key))
                    .col(text(IdempotencyKeys::Request))
                    .col(string_null(IdempotencyKeys::BodyHash))
                    .col(string(IdempotencyKeys::Owner))
                    .col(timestamp_with_time_zone(IdempotencyKeys::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(IdempotencyKeys::SealedAt))
                    .col(integer_null(IdempotencyKeys::Status))
                    .col(string_null(IdempotencyKeys::ContentType))
                    .col(text_null(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdempotencyKeys::Table, IdempotencyKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::Scope)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_expires")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_runs_status")
                    .table(Runs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .drop_column(Runs::Owner)
                    .to_owned(),
            )
            .await
    }
}
