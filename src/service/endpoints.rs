//! What sources and targets share: their fields, their validation, and the tenant-scoped
//! create/list/get/update/delete that `sources.rs` and `targets.rs` instantiate with
//! [`endpoint_crud!`].
use crate::error::{AppError, AppResult};
use serde_json::Value;

/// Fields of a new source or target.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub name: String,
    pub kind: String,
    pub config: Option<Value>,
}

/// Changes to a source or target; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub config: Option<Value>,
}

/// Parses a `type`.
pub(crate) fn parse_kind<K: std::str::FromStr<Err = String>>(kind: &str) -> AppResult<K> {
    kind.parse::<K>().map_err(|e| AppError::invalid("type", e))
}

/// Validates a `config` (default `{}`) for an endpoint of type `kind` with `check` and returns
/// its stored text.
pub(crate) fn validate_config<K: Copy, T>(
    kind: K,
    config: Option<Value>,
    check: impl Fn(K, &Value) -> Result<T, String>,
) -> AppResult<String> {
    let config = config.unwrap_or_else(|| Value::Object(Default::default()));
    check(kind, &config).map_err(|e| AppError::invalid("config", e))?;
    Ok(config.to_string())
}

/// Generates `create`, `list`, `get`, `update` and `delete` for an entity with the columns
/// `tenant_id, name, kind, config, created_at, updated_at`.
macro_rules! endpoint_crud {
    ($entity:ident, $Id:ty, $Kind:ty, $check:path, $owner:path, $what:literal) => {
        use $crate::entity::$entity;
        use $crate::error::{AppError, AppResult};
        use $crate::ids::TenantId;
        use $crate::service::endpoints::{
            EndpointUpdate, NewEndpoint, parse_kind, validate_config,
        };
        use $crate::service::{now, scope::validate_name};
        use sea_orm::{
            ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter,
            QueryOrder, Set,
        };

        pub async fn create(
            db: &sea_orm::DatabaseConnection,
            tenant: TenantId,
            new: NewEndpoint,
        ) -> AppResult<$entity::Model> {
            let tx = $crate::db::begin_write(db).await?;
            $crate::service::scope::get(&tx, tenant).await?;
            let at = now();
            let name = validate_name("name", &new.name)?;
            let kind = parse_kind::<$Kind>(&new.kind)?;
            let created = $entity::ActiveModel {
                tenant_id: Set(tenant.0),
                name: Set(name),
                kind: Set(kind.to_string()),
                config: Set(validate_config(kind, new.config, $check)?),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(&tx)
            .await?;
            $crate::service::idempotency::seal(&tx).await?;
            tx.commit().await?;
            Ok(created)
        }

        pub async fn list(
            conn: &impl ConnectionTrait,
            tenant: TenantId,
        ) -> AppResult<Vec<$entity::Model>> {
            Ok($entity::Entity::find()
                .filter($entity::Column::TenantId.eq(tenant.0))
                .order_by_asc($entity::Column::Id)
                .all(conn)
                .await?)
        }

        #[doc = concat!("A ", $what, " of this tenant; another tenant's is reported exactly like a missing one.")]
        pub async fn get(
            conn: &impl ConnectionTrait,
            tenant: TenantId,
            id: $Id,
        ) -> AppResult<$entity::Model> {
            let found = $entity::Entity::find_by_id(id.0)
                .filter($entity::Column::TenantId.eq(tenant.0))
                .one(conn)
                .await?;
            match found {
                Some(model) => Ok(model),
                None => {
                    // A wrong tenant is named as such, not as a missing source or target.
                    $crate::service::scope::get(conn, tenant).await?;
                    Err(AppError::not_found($what, id))
                }
            }
        }

        pub async fn update(
            conn: &impl ConnectionTrait,
            tenant: TenantId,
            id: $Id,
            update: EndpointUpdate,
        ) -> AppResult<$entity::Model> {
            let stored = get(conn, tenant, id).await?;
            // The config is checked against the type it will have (a changed type may not
            // understand the stored settings).
            let kind = match &update.kind {
                Some(kind) => Some(parse_kind::<$Kind>(kind)?),
                None => None,
            };
            let config = match (&update.config, kind) {
                (Some(config), _) => Some(config.clone()),
                (None, Some(_)) => Some(serde_json::from_str(&stored.config).unwrap_or_default()),
                (None, None) => None,
            };
            let mut active: $entity::ActiveModel = stored.into();
            if let Some(name) = update.name {
                active.name = Set(validate_name("name", &name)?);
            }
            if let Some(config) = config {
                let checked_as = match kind {
                    Some(kind) => kind,
                    None => parse_kind::<$Kind>(active.kind.as_ref())?,
                };
                active.config = Set(validate_config(checked_as, Some(config), $check)?);
            }
            if let Some(kind) = kind {
                active.kind = Set(kind.to_string());
            }
            active.updated_at = Set(now());
            Ok(active.update(conn).await?)
        }

        #[doc = concat!("Deletes a ", $what, " with its properties: a bulk writer of its records (see `locks`).")]
        pub async fn delete(
            db: &sea_orm::DatabaseConnection,
            tenant: TenantId,
            id: $Id,
        ) -> AppResult<()> {
            let tx = $crate::db::begin_write(db).await?;
            let model = get(&tx, tenant, id).await?;
            $crate::store::locks::lock(&tx, $owner(id), $crate::store::locks::Mode::Exclusive)
                .await?;
            model.delete(&tx).await?;
            $crate::service::idempotency::seal(&tx).await?;
            tx.commit().await?;
            Ok(())
        }
    };
}
pub(crate) use endpoint_crud;
