//! One record at a time, for single-record writers: its owner's lock shared, then its row
//! locked until the transaction ends.
use super::locks::{self, Mode};
use crate::domain::identity::storable_id;
use crate::entity::{source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, SourceId, TargetId};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

/// For a single-record writer (see `locks`): takes the target's lock shared, then reads the
/// record with its row locked until `tx` ends (the caller checked the target).
pub async fn lock_target_record(
    tx: &DatabaseTransaction,
    target: TargetId,
    external_id: &str,
) -> AppResult<target_properties::Model> {
    locks::lock(tx, Owner::Target(target), Mode::Shared).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    target_properties::Entity::find()
        .filter(target_properties::Column::TargetId.eq(target.0))
        .filter(target_properties::Column::ExternalId.eq(external_id))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

/// `lock_target_record` for a source's record (whose source the caller checked).
pub async fn lock_source_record(
    tx: &DatabaseTransaction,
    source: SourceId,
    external_id: &str,
) -> AppResult<source_properties::Model> {
    locks::lock(tx, Owner::Source(source), Mode::Shared).await?;
    if !storable_id(external_id) {
        // Such an id cannot have been stored (NUL, too long): there is no such record.
        return Err(AppError::not_found("property", external_id));
    }
    source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id))
        .lock_exclusive()
        .one(tx)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}
