//! Sources: where records come from.
use super::now;
use crate::domain::kinds::{SourceKind, SourceSettings, source_settings};
use crate::entity::sources;
use crate::error::{AppError, AppResult};
use crate::ids::{SourceId, TenantId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::Value;

/// Fields of a new source.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub name: String,
    pub kind: String,
    pub config: Option<Value>,
}

/// Changes to a source; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SourceUpdate {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub config: Option<Value>,
}

fn parse_kind(kind: &str) -> AppResult<SourceKind> {
    kind.parse().map_err(|e| AppError::invalid("type", e))
}

fn validate_config(config: Option<Value>) -> AppResult<String> {
    let config = config.unwrap_or_else(|| Value::Object(Default::default()));
    source_settings(&config).map_err(|e| AppError::invalid("config", e))?;
    Ok(config.to_string())
}

/// The typed settings of a stored source.
pub fn settings(source: &sources::Model) -> SourceSettings {
    source_settings(&serde_json::from_str(&source.config).unwrap_or(Value::Null)).unwrap_or(
        SourceSettings {
            max_delete_fraction: crate::domain::kinds::DEFAULT_MAX_DELETE_FRACTION,
        },
    )
}

pub async fn create(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    new: NewSource,
) -> AppResult<sources::Model> {
    super::tenants::get(conn, tenant).await?;
    let name = super::tenants::validate_name("name", &new.name)?;
    let kind = parse_kind(&new.kind)?;
    let config = validate_config(new.config)?;
    let at = now();
    Ok(sources::ActiveModel {
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

pub async fn list(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<Vec<sources::Model>> {
    Ok(sources::Entity::find()
        .filter(sources::Column::TenantId.eq(tenant.0))
        .order_by_asc(sources::Column::Id)
        .all(conn)
        .await?)
}

/// A source of this tenant; another tenant's source is reported exactly like a missing one.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: SourceId,
) -> AppResult<sources::Model> {
    sources::Entity::find_by_id(id.0)
        .filter(sources::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("source", id))
}

pub async fn update(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: SourceId,
    update: SourceUpdate,
) -> AppResult<sources::Model> {
    let source = get(conn, tenant, id).await?;
    let mut active: sources::ActiveModel = source.into();
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

/// Deletes a source with its properties (their target copies stay, unlinked).
pub async fn delete(conn: &impl ConnectionTrait, tenant: TenantId, id: SourceId) -> AppResult<()> {
    get(conn, tenant, id).await?.delete(conn).await?;
    Ok(())
}
