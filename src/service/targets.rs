//! Targets: where records go.
use super::now;
use crate::domain::kinds::{TargetKind, TargetSettings, target_settings};
use crate::entity::targets;
use crate::error::{AppError, AppResult};
use crate::ids::{TargetId, TenantId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::Value;

/// Fields of a new target.
#[derive(Debug, Clone)]
pub struct NewTarget {
    pub name: String,
    pub kind: String,
    pub config: Option<Value>,
}

/// Changes to a target; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TargetUpdate {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub config: Option<Value>,
}

fn parse_kind(kind: &str) -> AppResult<TargetKind> {
    kind.parse().map_err(|e| AppError::invalid("type", e))
}

fn validate_config(config: Option<Value>) -> AppResult<String> {
    let config = config.unwrap_or_else(|| Value::Object(Default::default()));
    target_settings(&config).map_err(|e| AppError::invalid("config", e))?;
    Ok(config.to_string())
}

/// The typed settings of a stored target.
pub fn settings(target: &targets::Model) -> TargetSettings {
    target_settings(&serde_json::from_str(&target.config).unwrap_or(Value::Null)).unwrap_or(
        TargetSettings {
            conflict_policy: crate::domain::kinds::ConflictPolicy::Merge,
            delete_policy: crate::domain::kinds::DeletePolicy::Mark,
        },
    )
}

pub async fn create(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    new: NewTarget,
) -> AppResult<targets::Model> {
    super::tenants::get(conn, tenant).await?;
    let name = super::tenants::validate_name("name", &new.name)?;
    let kind = parse_kind(&new.kind)?;
    let config = validate_config(new.config)?;
    let at = now();
    Ok(targets::ActiveModel {
        tenant_id: Set(tenant.0),
        name: Set(name),
        kind: Set(kind.as_str().to_string()),
        config: Set(config),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

pub async fn list(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<Vec<targets::Model>> {
    Ok(targets::Entity::find()
        .filter(targets::Column::TenantId.eq(tenant.0))
        .order_by_asc(targets::Column::Id)
        .all(conn)
        .await?)
}

/// A target of this tenant; another tenant's target is reported exactly like a missing one.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: TargetId,
) -> AppResult<targets::Model> {
    targets::Entity::find_by_id(id.0)
        .filter(targets::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("target", id))
}

pub async fn update(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: TargetId,
    update: TargetUpdate,
) -> AppResult<targets::Model> {
    let target = get(conn, tenant, id).await?;
    let mut active: targets::ActiveModel = target.into();
    if let Some(name) = update.name {
        active.name = Set(super::tenants::validate_name("name", &name)?);
    }
    if let Some(kind) = update.kind {
        active.kind = Set(parse_kind(&kind)?.as_str().to_string());
    }
    if let Some(config) = update.config {
        active.config = Set(validate_config(Some(config))?);
    }
    active.updated_at = Set(now());
    Ok(active.update(conn).await?)
}

/// Deletes a target with its properties.
pub async fn delete(conn: &impl ConnectionTrait, tenant: TenantId, id: TargetId) -> AppResult<()> {
    get(conn, tenant, id).await?.delete(conn).await?;
    Ok(())
}
