//! A dry-run import's records, record by record (see `domain::import_preview`), with the
//! stored versions they would change read from the database.
use crate::domain::import_preview::{PreviewNotes, describe};
use crate::entity::source_properties;
use crate::error::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;

pub use crate::domain::import_preview::PreviewedRecord;

/// The records `notes` lists, with the stored versions they change read from `conn`.
pub(super) async fn finish(
    notes: PreviewNotes,
    conn: &impl ConnectionTrait,
) -> AppResult<Vec<PreviewedRecord>> {
    let noted = notes.into_noted();
    let ids: Vec<i64> = noted.iter().filter_map(|n| n.existing).collect();
    let mut stored = HashMap::new();
    for chunk in ids.chunks(500) {
        for row in source_properties::Entity::find()
            .filter(source_properties::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            stored.insert(row.id, (row.external_id, super::parse_object(&row.data)));
        }
    }
    Ok(describe(noted, &stored))
}
