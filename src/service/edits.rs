//! Edits by hand: a JSON merge patch of a target record (kept as a hand edit, merged by the
//! next sync), and manual entry on `manual` sources (add, patch, delete).
use super::records::base_after_manual_change;
use super::runs::{self, RunKind};
use super::snapshots::snapshot_ids;
use super::{Actor, now};
use crate::domain::canonical::Canonical;
use crate::domain::identity::extract_external_id;
use crate::domain::kinds::SourceKind;
use crate::domain::patch::merge_patch;
use crate::entity::{source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, RunId, Side, SourceId, TargetId, TenantId};
use crate::store::live_counts;
use crate::store::locks::{self, Mode};
use crate::store::record_rows::{lock_source_record, lock_target_record};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde_json::Value;

/// Applies a merge patch of the property resource (`{"data": {...}}`; only `data` is
/// writable) to `current` data and returns the new data, keeping the record's identity.
fn patched_data(current: &str, patch: &Value, external_id: &str) -> AppResult<Value> {
    let Value::Object(fields) = patch else {
        return Err(AppError::invalid(
            "body",
            "must be a JSON object like {\"data\": {\"title\": \"New\"}}",
        ));
    };
    if let Some(other) = fields.keys().find(|k| k.as_str() != "data") {
        return Err(AppError::invalid(
            "patch",
            format!(
                "a patch must look like {{\"data\": {{...}}}}: the record's fields go inside \
                 \"data\" (send {{\"data\": {{{other:?}: …}}}}); only \"data\" is writable"
            ),
        ));
    }
    let mut data: Value =
        serde_json::from_str(current).unwrap_or(Value::Object(Default::default()));
    match fields.get("data") {
        None => {}
        Some(p @ Value::Object(_)) => merge_patch(&mut data, p),
        Some(_) => {
            return Err(AppError::invalid(
                "data",
                "must be a JSON object of the fields to set (null removes a field)",
            ));
        }
    }
    if let Ok(id) = extract_external_id(&data)
        && id != external_id
    {
        return Err(AppError::invalid(
            "data",
            format!("the record's id cannot be changed (it is {external_id:?})"),
        ));
    }
    Ok(data)
}

/// A manual edit of a target property: snapshots the old version, applies the merge patch,
/// recomputes the hash, and keeps the merge base so the next sync merges instead of
/// overwriting. Recorded as an `edit` run.
pub async fn patch_target(
    db: &DatabaseConnection,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
    patch: &Value,
    actor: &Actor,
) -> AppResult<(target_properties::Model, Option<RunId>)> {
    let tx = crate::db::begin_write(db).await?;
    super::targets::get(&tx, tenant, target).await?;
    let prop = lock_target_record(&tx, target, external_id).await?;
    if prop.deleted_at.is_some() {
        return Err(AppError::Conflict(format!(
            "property {external_id:?} was deleted; restore a snapshot first"
        )));
    }
    let data = patched_data(&prop.data, patch, external_id)?;
    let canonical = Canonical::of(&data);
    if canonical.hash == prop.hash {
        return Ok((prop, None));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, None, Some(target), actor).await?;
    snapshot_ids(&tx, Side::Target, &[prop.id], RunId(run.id), "manual edit").await?;
    let base = base_after_manual_change(&prop, &canonical.hash);
    let mut active: target_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.base_data = Set(base);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    let run_id = RunId(run.id);
    super::commit::run(tx, run, &serde_json::json!({"updated": 1}), None).await?;
    Ok((updated, Some(run_id)))
}

async fn manual_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
) -> AppResult<()> {
    let model = super::sources::get(conn, tenant, source).await?;
    if model.kind != SourceKind::Manual.as_str() {
        return Err(AppError::Conflict(format!(
            "source {source} is of type {}; only sources of type manual accept manual entry \
             (import into it instead)",
            model.kind
        )));
    }
    Ok(())
}

/// Manual entry: creates one property on a `manual` source.
pub async fn create_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    record: &Value,
    actor: &Actor,
) -> AppResult<source_properties::Model> {
    let external_id =
        extract_external_id(record).map_err(|e| AppError::invalid("data", e.to_string()))?;
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    locks::lock(&tx, Owner::Source(source), Mode::Shared).await?;
    let existing = source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id.as_str()))
        .one(&tx)
        .await?;
    if existing.is_some() {
        return Err(AppError::Conflict(format!(
            "a property with id {external_id:?} already exists in source {source}; PATCH it instead"
        )));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    let canonical = Canonical::of(record);
    let at = now();
    let created = source_properties::ActiveModel {
        tenant_id: Set(tenant.0),
        source_id: Set(source.0),
        external_id: Set(external_id),
        data: Set(canonical.text),
        hash: Set(canonical.hash),
        created_run_id: Set(Some(run.id)),
        run_id: Set(Some(run.id)),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    live_counts::recount_after_insert(&tx, Owner::Source(source)).await?;
    super::commit::run(tx, run, &serde_json::json!({"created": 1}), None).await?;
    Ok(created)
}

/// Manual edit (merge patch) of a property of a `manual` source.
pub async fn patch_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
    patch: &Value,
    actor: &Actor,
) -> AppResult<source_properties::Model> {
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    let prop = lock_source_record(&tx, source, external_id).await?;
    let data = patched_data(&prop.data, patch, external_id)?;
    let canonical = Canonical::of(&data);
    if canonical.hash == prop.hash && prop.deleted_at.is_none() {
        return Ok(prop);
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    snapshot_ids(&tx, Side::Source, &[prop.id], RunId(run.id), "manual edit").await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.deleted_at = Set(None);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    super::commit::run(tx, run, &serde_json::json!({"updated": 1}), None).await?;
    Ok(updated)
}

/// Soft-deletes a property of a `manual` source (snapshotted first).
pub async fn delete_manual(
    db: &DatabaseConnection,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
    actor: &Actor,
) -> AppResult<RunId> {
    let tx = crate::db::begin_write(db).await?;
    manual_source(&tx, tenant, source).await?;
    let prop = lock_source_record(&tx, source, external_id).await?;
    if prop.deleted_at.is_some() {
        return Err(AppError::not_found("property", external_id));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    let run_id = RunId(run.id);
    snapshot_ids(&tx, Side::Source, &[prop.id], run_id, "manual delete").await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.deleted_at = Set(Some(now()));
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    active.update(&tx).await?;
    super::commit::run(tx, run, &serde_json::json!({"deleted": 1}), None).await?;
    Ok(run_id)
}
