//! Targets: where records go.
use crate::domain::kinds::{
    ConflictPolicy, DeletePolicy, TargetKind, TargetSettings, check_target_config, target_settings,
};
use crate::ids::TargetId;

pub use super::endpoints::{EndpointUpdate as TargetUpdate, NewEndpoint as NewTarget};

use crate::entity::targets;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::service::endpoints::{EndpointUpdate, NewEndpoint, parse_kind, validate_config};
use crate::service::{now, scope::validate_name};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};

/// Creates a target of the tenant (its type and settings checked).
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    new: NewEndpoint,
) -> AppResult<targets::Model> {
    let tx = crate::db::begin_write(db).await?;
    crate::service::scope::get(&tx, tenant).await?;
    let at = now();
    let name = validate_name("name", &new.name)?;
    let kind = parse_kind::<TargetKind>(&new.kind)?;
    let created = targets::ActiveModel {
        tenant_id: Set(tenant.0),
        name: Set(name),
        kind: Set(kind.to_string()),
        config: Set(validate_config(kind, new.config, check_target_config)?),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    crate::service::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(created)
}

/// The tenant's targets, oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<Vec<targets::Model>> {
    Ok(targets::Entity::find()
        .filter(targets::Column::TenantId.eq(tenant.0))
        .order_by_asc(targets::Column::Id)
        .all(conn)
        .await?)
}

/// A target of this tenant; another tenant's is reported exactly like a missing one.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: TargetId,
) -> AppResult<targets::Model> {
    let found = targets::Entity::find_by_id(id.0)
        .filter(targets::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?;
    match found {
        Some(model) => Ok(model),
        None => {
            // A wrong tenant is named as such, not as a missing source or target.
            crate::service::scope::get(conn, tenant).await?;
            Err(AppError::not_found("target", id))
        }
    }
}

/// Changes a target's name, type or settings (checked against the type it will have).
pub async fn update(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: TargetId,
    update: EndpointUpdate,
) -> AppResult<targets::Model> {
    let stored = get(conn, tenant, id).await?;
    // The config is checked against the type it will have (a changed type may not
    // understand the stored settings).
    let kind = match &update.kind {
        Some(kind) => Some(parse_kind::<TargetKind>(kind)?),
        None => None,
    };
    let config = match (&update.config, kind) {
        (Some(config), _) => Some(config.clone()),
        (None, Some(_)) => Some(serde_json::from_str(&stored.config).unwrap_or_default()),
        (None, None) => None,
    };
    let mut active: targets::ActiveModel = stored.into();
    if let Some(name) = update.name {
        active.name = Set(validate_name("name", &name)?);
    }
    if let Some(config) = config {
        let checked_as = match kind {
            Some(kind) => kind,
            None => parse_kind::<TargetKind>(active.kind.as_ref())?,
        };
        active.config = Set(validate_config(
            checked_as,
            Some(config),
            check_target_config,
        )?);
    }
    if let Some(kind) = kind {
        active.kind = Set(kind.to_string());
    }
    active.updated_at = Set(now());
    Ok(active.update(conn).await?)
}

/// Deletes a target with its records: a bulk writer of its records (see `store::locks`).
pub async fn delete(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    id: TargetId,
) -> AppResult<()> {
    let tx = crate::db::begin_write(db).await?;
    let model = get(&tx, tenant, id).await?;
    crate::store::locks::lock(
        &tx,
        crate::ids::Owner::Target(id),
        crate::store::locks::Mode::Exclusive,
    )
    .await?;
    model.delete(&tx).await?;
    crate::service::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The typed settings of a stored target (validated when it was written).
pub fn settings(target: &targets::Model) -> TargetSettings {
    serde_json::from_str(&target.config)
        .map_err(|e| e.to_string())
        .and_then(|c| target_settings(&c))
        .unwrap_or(TargetSettings {
            conflict_policy: ConflictPolicy::Merge,
            delete_policy: DeletePolicy::Mark,
        })
}
