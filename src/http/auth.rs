//! Authentication: the `X-API-Key` header, checked against the stored key hashes.
use super::AppState;
use crate::ids::TenantId;
use crate::service::{Actor, keys};
use poem::Request;
use poem::http::StatusCode;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::ApiKey;

/// The tenant a request acts for, and who it was (the key prefix, recorded on runs).
#[derive(Debug, Clone)]
pub struct TenantAuth {
    pub tenant: TenantId,
    pub actor: Actor,
}

/// A tenant's API key in the `X-API-Key` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_tenant_key"
)]
pub struct TenantKey(pub TenantAuth);

fn unauthorized(detail: &str) -> poem::Error {
    poem::Error::from_string(detail, StatusCode::UNAUTHORIZED)
}

/// The address a request came from (what the brute-force limit counts by).
pub fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

/// The 429 of an address that guessed too often.
pub fn guessing(wait: std::time::Duration) -> poem::Error {
    poem::Error::from_response(super::problem::too_many(
        wait,
        "too many wrong keys from this address: wait before trying again (Retry-After says \
         how long)",
    ))
}

/// Whose key this is; a database failure is a 500, an unknown or revoked key a 401 (counted
/// against the address: too many of them and it gets 429 for a while).
async fn principal(req: &Request, key: &ApiKey) -> poem::Result<keys::Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
    let addr = client_ip(req);
    if let Some(wait) = state.limits.blocked(addr) {
        return Err(guessing(wait));
    }
    match keys::authenticate(&state.db, &key.key).await {
        Ok(principal) => Ok(principal),
        Err(e @ (crate::AppError::Db(_) | crate::AppError::StorageFull(_))) => {
            tracing::error!("database error while checking a key: {e}");
            Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
        }
        Err(_) => {
            state.limits.failed(addr);
            Err(unauthorized(
                "send a valid, unrevoked API key in the X-API-Key header",
            ))
        }
    }
}

async fn check_tenant_key(req: &Request, key: ApiKey) -> poem::Result<TenantAuth> {
    match principal(req, &key).await? {
        keys::Principal::Tenant { tenant, prefix } => {
            let limits = req.data::<AppState>().map(|s| s.limits.clone());
            if let Some(wait) = limits.and_then(|l| l.over_rate(tenant.0)) {
                return Err(poem::Error::from_response(super::problem::too_many(
                    wait,
                    "this tenant sent more requests than its rate limit allows: wait before \
                     sending more (Retry-After says how long)",
                )));
            }
            Ok(TenantAuth {
                tenant,
                actor: Actor(prefix),
            })
        }
        keys::Principal::Admin { .. } => Err(unauthorized(
            "the admin key only reaches the admin endpoints; use a tenant's API key here",
        )),
    }
}

/// The admin key (printed once by `sync-manager init` or the first `serve`) in the
/// `X-API-Key` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-API-Key",
    key_in = "header",
    checker = "check_admin_key"
)]
pub struct AdminKey(pub String);

async fn check_admin_key(req: &Request, key: ApiKey) -> poem::Result<String> {
    match principal(req, &key).await? {
        keys::Principal::Admin { prefix } => Ok(prefix),
        keys::Principal::Tenant { .. } => Err(unauthorized(
            "this endpoint needs the admin key (from `sync-manager init`), not a tenant's key",
        )),
    }
}
