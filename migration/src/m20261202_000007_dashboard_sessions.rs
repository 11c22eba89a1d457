//! The dashboard's sessions and uploads, in the database so that several `serve` processes
//! behind a load balancer share them (SPEC §7).
//!
//! * `ui_sessions`: one row per logged-in browser. Only the sha256 of the session token is
//!   stored (the token itself lives in the browser's cookie); the API key the person logged in
//!   with is re-checked on every request, so revoking it ends the session at once.
//! * `ui_uploads`: a file uploaded to the import form, kept between its dry run and the
//!   confirmation (and removed by either the import or the expiry of its session).
//! * An index of the live target records edited by hand (partial: only those rows), so that
//!   the dashboard counts and lists them without reading every record of a target.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UiSessions {
    Table,
    Id,
    TokenHash,
    KeyId,
    TenantId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum UiUploads {
    Table,
    Id,
    SessionId,
    SourceId,
    FileName,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UiSessions::Table)
                    .col(big_pk_auto(UiSessions::Id))
                    .col(string_uniq(UiSessions::TokenHash))
                    .col(big_integer(UiSessions::KeyId))
                    .col(big_integer_null(UiSessions::TenantId))
                    .col(timestamp_with_time_zone(UiSessions::CreatedAt))
                    .col(timestamp_with_time_zone(UiSessions::LastSeenAt))
                    .col(timestamp_with_time_zone(UiSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UiSessions::Table, UiSessions::KeyId)
                            .to(ApiKeys::Table, ApiKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UiSessions::Table, UiSessions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UiUploads::Table)
                    .col(big_pk_auto(UiUploads::Id))
                    .col(big_integer(UiUploads::SessionId))
                    .col(big_integer(UiUploads::SourceId))
                    .col(string(UiUploads::FileName))
                    .col(blob(UiUploads::Content))
                    .col(timestamp_with_time_zone(UiUploads::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UiUploads::Table, UiUploads::SessionId)
                            .to(UiSessions::Table, UiSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_target_properties_manual ON target_properties \
                 (target_id, external_id) WHERE deleted_at IS NULL \
                 AND (synced_hash IS NULL OR hash <> synced_hash)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_target_properties_manual")
            .await?;
        manager
            .drop_table(Table::drop().table(UiUploads::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UiSessions::Table).to_owned())
            .await
    }
}
