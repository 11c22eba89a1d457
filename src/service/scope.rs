//! What every use case checks first: the tenant it acts for exists, and the names people give
//! things are sound. Its own module so that `keys` and `tenants` need not import each other.
use crate::entity::tenants;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use sea_orm::{ConnectionTrait, EntityTrait};

/// The tenant `id`, or not found.
pub async fn get(conn: &impl ConnectionTrait, id: TenantId) -> AppResult<tenants::Model> {
    tenants::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("tenant", id))
}

/// A name as stored: trimmed, not empty, at most 200 characters, no control characters.
pub(crate) fn validate_name(field: &str, name: &str) -> AppResult<String> {
    let long = name.chars().count() > 200;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::invalid(field, "must not be empty"));
    }
    if long {
        return Err(AppError::invalid(field, "must be at most 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "must not contain control characters (such as NUL, tab or a line break)",
        ));
    }
    Ok(name.to_string())
}
