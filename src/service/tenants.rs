//! Tenants: isolated workspaces.
use super::keys::{self, NewKey};
use super::now;
pub use super::scope::get;
use super::scope::validate_name;
use crate::entity::tenants;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, Set,
};

pub const DEFAULT_RETENTION_DAYS: i32 = 30;

fn validate_retention(days: i32) -> AppResult<i32> {
    if !(1..=36500).contains(&days) {
        return Err(AppError::invalid(
            "retention_days",
            format!("must be between 1 and 36500, got {days}"),
        ));
    }
    Ok(days)
}

/// Creates a tenant and its first API key (the key text is only in the returned value).
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    retention_days: Option<i32>,
) -> AppResult<(tenants::Model, NewKey)> {
    let name = validate_name("name", name)?;
    let retention = validate_retention(retention_days.unwrap_or(DEFAULT_RETENTION_DAYS))?;
    let tx = crate::db::begin_write(db).await?;
    let tenant = tenants::ActiveModel {
        name: Set(name),
        retention_days: Set(retention),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    let key = keys::insert(&tx, Some(TenantId(tenant.id)), "default").await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok((tenant, key))
}

pub async fn list(conn: &impl ConnectionTrait) -> AppResult<Vec<tenants::Model>> {
    Ok(tenants::Entity::find()
        .order_by_asc(tenants::Column::Id)
        .all(conn)
        .await?)
}

/// Changes the name and/or the snapshot retention of a tenant.
pub async fn update(
    conn: &impl ConnectionTrait,
    id: TenantId,
    name: Option<&str>,
    retention_days: Option<i32>,
) -> AppResult<tenants::Model> {
    let tenant = get(conn, id).await?;
    let mut active: tenants::ActiveModel = tenant.into();
    if let Some(name) = name {
        active.name = Set(validate_name("name", name)?);
    }
    if let Some(days) = retention_days {
        active.retention_days = Set(validate_retention(days)?);
    }
    Ok(active.update(conn).await?)
}
