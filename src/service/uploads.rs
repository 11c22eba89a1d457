//! Files uploaded to the dashboard's import form, kept in the database between the dry run
//! that previews them and the confirmation that imports them (any server may answer either).
use super::now;
use crate::entity::ui_uploads;
use crate::error::{AppError, AppResult};
use crate::ids::SourceId;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

/// Keeps `content` for the session's next step; its id.
pub async fn keep(
    db: &DatabaseConnection,
    session: i64,
    source: SourceId,
    file_name: &str,
    content: Vec<u8>,
) -> AppResult<i64> {
    let row = ui_uploads::ActiveModel {
        session_id: Set(session),
        source_id: Set(source.0),
        file_name: Set(file_name.chars().take(200).collect()),
        content: Set(content),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// An upload of this session for this source.
pub async fn get(
    db: &DatabaseConnection,
    session: i64,
    source: SourceId,
    id: i64,
) -> AppResult<ui_uploads::Model> {
    ui_uploads::Entity::find_by_id(id)
        .filter(ui_uploads::Column::SessionId.eq(session))
        .filter(ui_uploads::Column::SourceId.eq(source.0))
        .one(db)
        .await?
        .ok_or_else(|| {
            AppError::not_found("upload (it was imported already, or the session ended)", id)
        })
}

/// Drops an upload.
pub async fn remove(db: &DatabaseConnection, id: i64) -> AppResult<()> {
    ui_uploads::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
