//! Tenant self-service (current tenant, API keys), admin tenant endpoints, and cleanup.
use super::ApiTags;
use crate::entity::{api_keys, tenants as tenant_entity};
use crate::http::AppState;
use crate::http::auth::{AdminKey, TenantKey};
use crate::http::paging::{self, ListResponse};
use crate::http::problem::ApiResult;
use crate::http::strict::Strict;
use crate::ids::{KeyId, TenantId};
use crate::service::{cleanup, keys, tenants};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

pub struct TenantApi(pub AppState);

/// A tenant: an isolated workspace.
#[derive(Debug, Object)]
pub struct TenantDto {
    pub id: i64,
    pub name: String,
    /// Days snapshots, resolved warnings and finished runs are kept.
    pub retention_days: i32,
    pub created_at: DateTime<Utc>,
}

impl From<tenant_entity::Model> for TenantDto {
    fn from(m: tenant_entity::Model) -> Self {
        TenantDto {
            id: m.id,
            name: m.name,
            retention_days: m.retention_days,
            created_at: m.created_at,
        }
    }
}

/// An API key, without its secret.
#[derive(Debug, Object)]
pub struct KeyDto {
    pub id: i64,
    pub name: String,
    /// The public start of the key, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_keys::Model> for KeyDto {
    fn from(m: api_keys::Model) -> Self {
        KeyDto {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A new key: `api_key` is shown this once.
#[derive(Debug, Object)]
pub struct NewKeyDto {
    pub key: KeyDto,
    /// The secret; store it now, it is not shown again.
    pub api_key: String,
}

impl From<keys::NewKey> for NewKeyDto {
    fn from(k: keys::NewKey) -> Self {
        NewKeyDto {
            key: k.model.into(),
            api_key: k.key,
        }
    }
}

/// A label for a new key.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewKeyBody {
    pub name: Strict<String>,
}

/// A JSON merge patch of the current tenant.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct TenantPatch {
    pub name: Option<Strict<String>>,
    pub retention_days: Option<Strict<i32>>,
}

/// A new tenant.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewTenantBody {
    pub name: Strict<String>,
    /// Default 30.
    pub retention_days: Option<Strict<i32>>,
}

/// A new tenant and its first API key (shown once).
#[derive(Debug, Object)]
pub struct NewTenantDto {
    pub tenant: TenantDto,
    pub api_key: String,
}

/// What a cleanup removed (or, in a dry run, would remove).
#[derive(Debug, Object)]
pub struct CleanupResult {
    pub run_id: Option<i64>,
    pub days: i64,
    pub cutoff: DateTime<Utc>,
    pub snapshots: u64,
    pub warnings: u64,
    pub runs: u64,
    pub dry_run: bool,
}

#[derive(ApiResponse)]
pub enum KeyCreated {
    /// Created; the secret is in `api_key`.
    #[oai(status = 201)]
    Created(Json<NewKeyDto>),
}

#[derive(ApiResponse)]
pub enum TenantCreated {
    /// Created; the first API key is in `api_key`.
    #[oai(status = 201)]
    Created(Json<NewTenantDto>),
}

#[OpenApi(tag = "ApiTags::Tenant")]
impl TenantApi {
    /// The current tenant
    ///
    /// The tenant the API key belongs to.
    #[oai(path = "/tenant", method = "get")]
    async fn current(&self, auth: TenantKey) -> ApiResult<Json<TenantDto>> {
        Ok(Json(tenants::get(&self.0.db, auth.0.tenant).await?.into()))
    }

    /// Change the current tenant
    ///
    /// `name` and `retention_days` (1 to 36500) may be sent.
    #[oai(path = "/tenant", method = "patch")]
    async fn patch(&self, auth: TenantKey, body: Json<TenantPatch>) -> ApiResult<Json<TenantDto>> {
        let t = tenants::update(
            &self.0.db,
            auth.0.tenant,
            body.0.name.as_ref().map(|n| n.0.as_str()),
            body.0.retention_days.map(|d| d.0),
        )
        .await?;
        Ok(Json(t.into()))
    }

    /// List the tenant's API keys
    ///
    /// Names, prefixes and revocation times; secrets are never shown again.
    #[oai(path = "/keys", method = "get")]
    async fn list_keys(
        &self,
        auth: TenantKey,
        /// Page size (1 to 1000); without it, every item in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<KeyDto>> {
        let all = keys::list(&self.0.db, auth.0.tenant).await?;
        paging::page_in_memory(all, |k| k.id, false, "/keys", limit.0, cursor.0)
    }

    /// Create an API key
    ///
    /// The secret is in the response only.
    #[oai(path = "/keys", method = "post")]
    async fn create_key(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        body: Json<NewKeyBody>,
    ) -> ApiResult<KeyCreated> {
        let key = keys::create(&self.0.db, auth.0.tenant, &body.0.name.0).await?;
        Ok(KeyCreated::Created(Json(key.into())))
    }

    /// Revoke an API key
    ///
    /// Requests with it get 401 from now on. Revoking twice is harmless.
    #[oai(path = "/keys/:id", method = "delete")]
    async fn revoke_key(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Json<KeyDto>> {
        Ok(Json(
            keys::revoke(&self.0.db, auth.0.tenant, KeyId(id.0))
                .await?
                .into(),
        ))
    }

    /// Clean up old history
    ///
    /// Deletes snapshots, resolved warnings and finished runs older than `days` (default: the
    /// tenant's retention). The merge base a target needs is never removed.
    #[oai(path = "/cleanup", method = "post")]
    async fn cleanup(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        /// Age in days (default: the tenant's `retention_days`).
        days: Query<Option<i64>>,
        /// Only count what would be removed.
        dry_run: Query<Option<bool>>,
    ) -> ApiResult<Json<CleanupResult>> {
        let out = cleanup::cleanup(
            &self.0.db,
            auth.0.tenant,
            days.0,
            dry_run.0.unwrap_or(false),
            &auth.0.actor,
        )
        .await?;
        Ok(Json(CleanupResult {
            run_id: out.run_id.map(|r| r.0),
            days: out.days,
            cutoff: out.cutoff,
            snapshots: out.snapshots,
            warnings: out.warnings,
            runs: out.runs,
            dry_run: out.dry_run,
        }))
    }

    /// List tenants (admin)
    ///
    /// Needs the admin key printed by `sync-manager init`.
    #[oai(path = "/admin/tenants", method = "get")]
    async fn list_tenants(
        &self,
        _admin: AdminKey,
        /// Page size (1 to 1000); without it, every item in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<TenantDto>> {
        let all = tenants::list(&self.0.db).await?;
        paging::page_in_memory(all, |t| t.id, false, "/admin/tenants", limit.0, cursor.0)
    }

    /// Create a tenant (admin)
    ///
    /// Returns the tenant and its first API key (shown once).
    #[oai(path = "/admin/tenants", method = "post")]
    async fn create_tenant(
        &self,
        _admin: AdminKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        body: Json<NewTenantBody>,
    ) -> ApiResult<TenantCreated> {
        let (tenant, key) = tenants::create(
            &self.0.db,
            &body.0.name.0,
            body.0.retention_days.map(|d| d.0),
        )
        .await?;
        Ok(TenantCreated::Created(Json(NewTenantDto {
            tenant: tenant.into(),
            api_key: key.key,
        })))
    }

    /// Get a tenant (admin)
    ///
    /// Needs the admin key.
    #[oai(path = "/admin/tenants/:id", method = "get")]
    async fn get_tenant(&self, _admin: AdminKey, id: Path<i64>) -> ApiResult<Json<TenantDto>> {
        Ok(Json(tenants::get(&self.0.db, TenantId(id.0)).await?.into()))
    }
}

impl poem_openapi::types::Example for NewKeyBody {
    fn example() -> Self {
        NewKeyBody {
            name: Strict("nightly job".into()),
        }
    }
}

impl poem_openapi::types::Example for TenantPatch {
    fn example() -> Self {
        TenantPatch {
            name: None,
            retention_days: Some(Strict(90)),
        }
    }
}

impl poem_openapi::types::Example for NewTenantBody {
    fn example() -> Self {
        NewTenantBody {
            name: Strict("My Agency".into()),
            retention_days: None,
        }
    }
}
