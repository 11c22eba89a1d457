//! API keys: random secrets shown once, stored only as sha256 hash + a short public prefix.
use super::now;
use crate::domain::canonical::sha256_hex;
use crate::entity::api_keys;
use crate::error::{AppError, AppResult};
use crate::ids::{KeyId, TenantId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

/// Length of the public prefix kept in clear (e.g. `sm_3f9a1c2e`).
const PREFIX_LEN: usize = 11;

/// A freshly created key: `key` is the only copy of the secret.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub model: api_keys::Model,
}

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin { prefix: String },
    Tenant { tenant: TenantId, prefix: String },
}

fn generate(admin: bool) -> (String, String, String) {
    let mut bytes = [0u8; 24]; // 192 bits
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let key = format!(
        "{}{}",
        if admin { "sma_" } else { "sm_" },
        hex::encode(bytes)
    );
    let prefix = key[..PREFIX_LEN].to_string();
    let hash = sha256_hex(key.as_bytes());
    (key, prefix, hash)
}

pub(super) async fn insert(
    conn: &impl ConnectionTrait,
    tenant: Option<TenantId>,
    name: &str,
) -> AppResult<NewKey> {
    let name = super::scope::validate_name("name", name)?;
    let (key, prefix, hash) = generate(tenant.is_none());
    let model = api_keys::ActiveModel {
        tenant_id: Set(tenant.map(|t| t.0)),
        is_admin: Set(tenant.is_none()),
        name: Set(name),
        prefix: Set(prefix),
        key_hash: Set(hash),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(NewKey { key, model })
}

/// Creates a new key for a tenant.
pub async fn create(db: &DatabaseConnection, tenant: TenantId, name: &str) -> AppResult<NewKey> {
    let tx = crate::db::begin_write(db).await?;
    super::scope::get(&tx, tenant).await?;
    let key = insert(&tx, Some(tenant), name).await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(key)
}

/// Creates the admin key unless an active one exists; returns it only when created.
pub async fn ensure_admin_key(conn: &impl ConnectionTrait) -> AppResult<Option<NewKey>> {
    ensure_admin_key_with(conn, None).await
}

/// `ensure_admin_key`, with the key an operator chose (`SYNC_MANAGER_ADMIN_KEY`) instead of a
/// random one: `sma_` and at least 32 more letters or digits. An admin key stored before is
/// kept (the given one is then ignored: the caller can tell with [`find_active`]).
pub async fn ensure_admin_key_with(
    conn: &impl ConnectionTrait,
    given: Option<&str>,
) -> AppResult<Option<NewKey>> {
    let existing = api_keys::Entity::find()
        .filter(api_keys::Column::IsAdmin.eq(true))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(conn)
        .await?;
    if existing.is_some() {
        return Ok(None);
    }
    let Some(key) = given else {
        return Ok(Some(insert(conn, None, "admin").await?));
    };
    let key = key.trim();
    let secret = key.strip_prefix("sma_").unwrap_or("");
    if secret.len() < 32 || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::invalid(
            "SYNC_MANAGER_ADMIN_KEY",
            "must be sma_ followed by at least 32 letters or digits, e.g. \
             sma_$(openssl rand -hex 24)",
        ));
    }
    let model = api_keys::ActiveModel {
        tenant_id: Set(None),
        is_admin: Set(true),
        name: Set("admin".into()),
        prefix: Set(key[..PREFIX_LEN].to_string()),
        key_hash: Set(sha256_hex(key.as_bytes())),
        created_at: Set(now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(Some(NewKey {
        key: key.to_string(),
        model,
    }))
}

/// The keys of a tenant (never their secrets).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> AppResult<Vec<api_keys::Model>> {
    super::scope::get(conn, tenant).await?;
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant.0))
        .order_by_asc(api_keys::Column::Id)
        .all(conn)
        .await?)
}

/// The names of a tenant's keys (revoked ones too) by their public prefix: runs record the
/// prefix of the key that started them, people know keys by name.
pub async fn names(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
) -> AppResult<std::collections::HashMap<String, String>> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant.0))
        .all(conn)
        .await?
        .into_iter()
        .map(|k| (k.prefix, k.name))
        .collect())
}

/// Revokes one key of a tenant; revoking twice is harmless.
pub async fn revoke(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: KeyId,
) -> AppResult<api_keys::Model> {
    let key = api_keys::Entity::find_by_id(id.0)
        .filter(api_keys::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("api key", id))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active: api_keys::ActiveModel = key.into();
    active.revoked_at = Set(Some(now()));
    Ok(active.update(conn).await?)
}

/// Creates a new key and revokes every other key of the tenant.
pub async fn rotate(db: &DatabaseConnection, tenant: TenantId, name: &str) -> AppResult<NewKey> {
    let tx = crate::db::begin_write(db).await?;
    super::scope::get(&tx, tenant).await?;
    let new = insert(&tx, Some(tenant), name).await?;
    api_keys::Entity::update_many()
        .col_expr(
            api_keys::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .filter(api_keys::Column::TenantId.eq(tenant.0))
        .filter(api_keys::Column::Id.ne(new.model.id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(&tx)
        .await?;
    super::idempotency::seal(&tx).await?;
    tx.commit().await?;
    Ok(new)
}

/// Makes a new admin key and revokes the others (and with them their dashboard sessions): the
/// way back in when the admin key is lost.
pub async fn rotate_admin(db: &DatabaseConnection) -> AppResult<NewKey> {
    let tx = crate::db::begin_write(db).await?;
    let new = insert(&tx, None, "admin").await?;
    api_keys::Entity::update_many()
        .col_expr(
            api_keys::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .filter(api_keys::Column::IsAdmin.eq(true))
        .filter(api_keys::Column::Id.ne(new.model.id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(new)
}

/// The stored, unrevoked key whose secret is `key` (found by its sha256, so the lookup takes
/// the same time whatever the secret).
pub async fn find_active(
    conn: &impl ConnectionTrait,
    key: &str,
) -> AppResult<Option<api_keys::Model>> {
    let key = key.trim();
    if key.len() < PREFIX_LEN {
        return Ok(None);
    }
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(sha256_hex(key.as_bytes())))
        .one(conn)
        .await?
        .filter(|k| k.revoked_at.is_none()))
}

/// Finds whose key this is. Unknown and revoked keys are `Unauthorized`.
pub async fn authenticate(conn: &impl ConnectionTrait, key: &str) -> AppResult<Principal> {
    let unauthorized =
        || AppError::Unauthorized("send a valid, unrevoked API key in the X-API-Key header".into());
    let found = find_active(conn, key).await?.ok_or_else(unauthorized)?;
    Ok(match found.tenant_id {
        Some(tenant) if !found.is_admin => Principal::Tenant {
            tenant: TenantId(tenant),
            prefix: found.prefix,
        },
        _ => Principal::Admin {
            prefix: found.prefix,
        },
    })
}
