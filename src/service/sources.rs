//! Sources: where records come from.
use crate::domain::kinds::{
    DEFAULT_MAX_DELETE_FRACTION, SourceKind, SourceSettings, check_source_config, source_settings,
};
use crate::ids::SourceId;

pub use super::endpoints::{EndpointUpdate as SourceUpdate, NewEndpoint as NewSource};

use crate::entity::sources;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::service::endpoints::{EndpointUpdate, NewEndpoint, parse_kind, validate_config};
use crate::service::{now, scope::validate_name};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, Set,
};

/// Creates a source of the tenant (its type and settings checked).
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    new: NewEndpoint,
) -> AppResult<sources::Model> {
    let tx = crate::db::begin_write(db).await?;
    crate::service::scope::get(&tx, tenant).await?;
    let at = now();
    let name = validate_name("name", &new.name)?;
    let kind = parse_kind::<SourceKind>(&new.kind)?;
    let created = sources::ActiveModel {
        tenant_id: Set(tenant.0),
        name: Set(name),
        kind: Set(kind.to_string()),
        config: Set(validate_config(kind, new.config, check_source_config)?),
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

/// The tenant's sources, oldest first.
pub async fn list(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<Vec<sources::Model>> {
    Ok(sources::Entity::find()
        .filter(sources::Column::TenantId.eq(tenant.0))
        .order_by_asc(sources::Column::Id)
        .all(conn)
        .await?)
}

/// A source of this tenant; another tenant's is reported exactly like a missing one.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: SourceId,
) -> AppResult<sources::Model> {
    let found = sources::Entity::find_by_id(id.0)
        .filter(sources::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?;
    match found {
        Some(model) => Ok(model),
        None => {
            // A wrong tenant is named as such, not as a missing source or target.
            crate::service::scope::get(conn, tenant).await?;
            Err(AppError::not_found("source", id))
        }
    }
}

/// Changes a source's name, type or settings (checked against the type it will have).
pub async fn update(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: SourceId,
    update: EndpointUpdate,
) -> AppResult<sources::Model> {
    let stored = get(conn, tenant, id).await?;
    // The config is checked against the type it will have (a changed type may not
    // understand the stored settings).
    let kind = match &update.kind {
        Some(kind) => Some(parse_kind::<SourceKind>(kind)?),
        None => None,
    };
    let config = match (&update.config, kind) {
        (Some(config), _) => Some(config.clone()),
        (None, Some(_)) => Some(serde_json::from_str(&stored.config).unwrap_or_default()),
        (None, None) => None,
    };
    let mut active: sources::ActiveModel = stored.into();
    if let Some(name) = update.name {
        active.name = Set(validate_name("name", &name)?);
    }
    if let Some(config) = config {
        let checked_as = match kind {
            Some(kind) => kind,
            None => parse_kind::<SourceKind>(active.kind.as_ref())?,
        };
        active.config = Set(validate_config(
            checked_as,
            Some(config),
            check_source_config,
        )?);
    }
    if let Some(kind) = kind {
        active.kind = Set(kind.to_string());
    }
    active.updated_at = Set(now());
    Ok(active.update(conn).await?)
}

/// Deletes a source with its records: a bulk writer of its records (see `store::locks`).
pub async fn delete(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    id: SourceId,
) -> AppResult<()> {
    let tx = crate::db::begin_write(db).await?;
    let model = get(&tx, tenant, id).await?;
    crate::store::locks::lock(
        &tx,
        crate::ids::Owner::Source(id),
        crate::store::locks::Mode::Exclusive,
    )
    .await?;
    model.delete(&tx).await?;
    crate::service::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The typed settings of a stored source (validated when it was written).
pub fn settings(source: &sources::Model) -> SourceSettings {
    serde_json::from_str(&source.config)
        .map_err(|e| e.to_string())
        .and_then(|c| source_settings(&c))
        .unwrap_or(SourceSettings {
            max_delete_fraction: DEFAULT_MAX_DELETE_FRACTION,
        })
}
