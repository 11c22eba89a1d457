//! Properties: listing them, manual edits of target properties (JSON merge patch), and manual
//! entry on `manual` sources.
use super::runs::{self, RunKind};
use super::snapshots::{PropertyKind, snapshot_ids};
use super::{Actor, now};
use crate::domain::canonical::Canonical;
use crate::domain::identity::extract_external_id;
use crate::domain::kinds::SourceKind;
use crate::domain::patch::merge_patch;
use crate::entity::{source_properties, target_properties};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, SourceId, TargetId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::Value;

/// Filters and paging of property lists (ordered by `external_id`).
#[derive(Debug, Clone, Default)]
pub struct PropertyFilter {
    /// Only target properties whose data differs from what the last sync wrote (or not).
    pub has_manual_changes: Option<bool>,
    /// Only properties updated at or after this instant.
    pub changed_since: Option<DateTime<Utc>>,
    /// Also list soft-deleted properties.
    pub include_deleted: bool,
    /// Cursor: list properties whose external id sorts after this one.
    pub after: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: u64,
}

/// Target property has hand edits: its hash differs from what the last sync wrote.
pub fn has_manual_changes(p: &target_properties::Model) -> bool {
    p.synced_hash.as_deref() != Some(p.hash.as_str())
}

/// The merge base to keep after a non-sync change of a target property to `new_hash`:
/// the base already kept, or (on the first hand edit) the data the last sync wrote; none once
/// the data is back to what the last sync wrote.
pub(crate) fn base_after_manual_change(
    old: &target_properties::Model,
    new_hash: &str,
) -> Option<String> {
    if old.synced_hash.as_deref() == Some(new_hash) {
        return None;
    }
    old.base_data.clone().or_else(|| {
        (old.synced_hash.as_deref() == Some(old.hash.as_str())).then(|| old.data.clone())
    })
}

fn source_query(
    source: SourceId,
    filter: &PropertyFilter,
) -> sea_orm::Select<source_properties::Entity> {
    let mut q =
        source_properties::Entity::find().filter(source_properties::Column::SourceId.eq(source.0));
    if !filter.include_deleted {
        q = q.filter(source_properties::Column::DeletedAt.is_null());
    }
    if let Some(since) = filter.changed_since {
        q = q.filter(source_properties::Column::UpdatedAt.gte(since));
    }
    q
}

pub async fn list_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    filter: &PropertyFilter,
) -> AppResult<Vec<source_properties::Model>> {
    super::sources::get(conn, tenant, source).await?;
    Ok(source_page_query(source, filter).all(conn).await?)
}

/// One page of a source's properties (cursor and limit of `filter`) and how many match the
/// filter in all; the source is looked up once.
pub async fn page_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    filter: &PropertyFilter,
) -> AppResult<(Vec<source_properties::Model>, u64)> {
    super::sources::get(conn, tenant, source).await?;
    let total = source_query(source, filter).count(conn).await?;
    Ok((source_page_query(source, filter).all(conn).await?, total))
}

fn source_page_query(
    source: SourceId,
    filter: &PropertyFilter,
) -> sea_orm::Select<source_properties::Entity> {
    let mut q = source_query(source, filter);
    if let Some(after) = &filter.after {
        q = q.filter(source_properties::Column::ExternalId.gt(after.as_str()));
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit);
    }
    q.order_by_asc(source_properties::Column::ExternalId)
}

fn target_query(
    target: TargetId,
    filter: &PropertyFilter,
) -> sea_orm::Select<target_properties::Entity> {
    let mut q =
        target_properties::Entity::find().filter(target_properties::Column::TargetId.eq(target.0));
    if !filter.include_deleted {
        q = q.filter(target_properties::Column::DeletedAt.is_null());
    }
    if let Some(manual) = filter.has_manual_changes {
        let differs = Expr::cust("(synced_hash IS NULL OR hash <> synced_hash)");
        q = q.filter(if manual {
            differs
        } else {
            Expr::cust("(synced_hash IS NOT NULL AND hash = synced_hash)")
        });
    }
    if let Some(since) = filter.changed_since {
        q = q.filter(target_properties::Column::UpdatedAt.gte(since));
    }
    q
}

pub async fn list_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    filter: &PropertyFilter,
) -> AppResult<Vec<target_properties::Model>> {
    super::targets::get(conn, tenant, target).await?;
    Ok(target_page_query(target, filter).all(conn).await?)
}

/// One page of a target's properties (cursor and limit of `filter`) and how many match the
/// filter in all; the target is looked up once.
pub async fn page_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    filter: &PropertyFilter,
) -> AppResult<(Vec<target_properties::Model>, u64)> {
    super::targets::get(conn, tenant, target).await?;
    let total = target_query(target, filter).count(conn).await?;
    Ok((target_page_query(target, filter).all(conn).await?, total))
}

fn target_page_query(
    target: TargetId,
    filter: &PropertyFilter,
) -> sea_orm::Select<target_properties::Entity> {
    let mut q = target_query(target, filter);
    if let Some(after) = &filter.after {
        q = q.filter(target_properties::Column::ExternalId.gt(after.as_str()));
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit);
    }
    q.order_by_asc(target_properties::Column::ExternalId)
}

pub async fn get_source(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    source: SourceId,
    external_id: &str,
) -> AppResult<source_properties::Model> {
    super::sources::get(conn, tenant, source).await?;
    source_properties::Entity::find()
        .filter(source_properties::Column::SourceId.eq(source.0))
        .filter(source_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

pub async fn get_target(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    target: TargetId,
    external_id: &str,
) -> AppResult<target_properties::Model> {
    super::targets::get(conn, tenant, target).await?;
    target_properties::Entity::find()
        .filter(target_properties::Column::TargetId.eq(target.0))
        .filter(target_properties::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("property", external_id))
}

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
            other.clone(),
            "only \"data\" is writable; send {\"data\": {...}}",
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
    let prop = get_target(&tx, tenant, target, external_id).await?;
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
    snapshot_ids(
        &tx,
        PropertyKind::Target,
        &[prop.id],
        RunId(run.id),
        "manual edit",
    )
    .await?;
    let base = base_after_manual_change(&prop, &canonical.hash);
    let mut active: target_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.base_data = Set(base);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    let run_id = RunId(run.id);
    runs::finish(&tx, run, &serde_json::json!({"updated": 1}), None).await?;
    tx.commit().await?;
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
    runs::finish(&tx, run, &serde_json::json!({"created": 1}), None).await?;
    tx.commit().await?;
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
    let prop = get_source(&tx, tenant, source, external_id).await?;
    let data = patched_data(&prop.data, patch, external_id)?;
    let canonical = Canonical::of(&data);
    if canonical.hash == prop.hash && prop.deleted_at.is_none() {
        return Ok(prop);
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    snapshot_ids(
        &tx,
        PropertyKind::Source,
        &[prop.id],
        RunId(run.id),
        "manual edit",
    )
    .await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.data = Set(canonical.text);
    active.hash = Set(canonical.hash);
    active.deleted_at = Set(None);
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    let updated = active.update(&tx).await?;
    runs::finish(&tx, run, &serde_json::json!({"updated": 1}), None).await?;
    tx.commit().await?;
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
    let prop = get_source(&tx, tenant, source, external_id).await?;
    if prop.deleted_at.is_some() {
        return Err(AppError::not_found("property", external_id));
    }
    let run = runs::start(&tx, tenant, RunKind::Edit, Some(source), None, actor).await?;
    let run_id = RunId(run.id);
    snapshot_ids(
        &tx,
        PropertyKind::Source,
        &[prop.id],
        run_id,
        "manual delete",
    )
    .await?;
    let mut active: source_properties::ActiveModel = prop.into();
    active.deleted_at = Set(Some(now()));
    active.run_id = Set(Some(run.id));
    active.updated_at = Set(now());
    active.update(&tx).await?;
    runs::finish(&tx, run, &serde_json::json!({"deleted": 1}), None).await?;
    tx.commit().await?;
    Ok(run_id)
}
