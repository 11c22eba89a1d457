//! Dashboard sessions: logging in with an API key (a tenant's or the admin's) gives the browser
//! a random session token in a cookie; the database keeps only its sha256 (migration 7), so
//! several servers share sessions and a copy of the database gives none away. The key is
//! checked again on every request: revoking it ends its sessions at once. Sessions end after
//! 12 idle hours, and after 7 days whatever happens.
//!
//! Forms carry a CSRF token derived from the session token (`csrf_token`): whoever can read the
//! page has it, a page of another site cannot compute it, and nothing about it is stored.
use super::now;
use crate::entity::{api_keys, tenants, ui_sessions};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use sha2::{Digest, Sha256};

/// Idle time after which a session ends.
pub const IDLE_HOURS: i64 = 12;
/// Age after which a session ends, used or not.
pub const MAX_DAYS: i64 = 7;

/// Who is looking at the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// A tenant's key: that tenant's pages.
    Tenant {
        tenant: TenantId,
        name: String,
        key_prefix: String,
    },
    /// The admin key: the tenants and their keys.
    Admin { key_prefix: String },
}

impl Viewer {
    /// Recorded as the actor of what the viewer does (the key's prefix, as for the API).
    pub fn actor(&self) -> super::Actor {
        match self {
            Viewer::Tenant { key_prefix, .. } | Viewer::Admin { key_prefix } => {
                super::Actor(format!("{key_prefix} (dashboard)"))
            }
        }
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub viewer: Viewer,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The CSRF token of the session whose token is `session_token`.
pub fn csrf_token(session_token: &str) -> String {
    sha256_hex(&format!("sync-manager csrf:{session_token}"))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn viewer_of(conn: &impl ConnectionTrait, key: &api_keys::Model) -> AppResult<Viewer> {
    Ok(match key.tenant_id {
        Some(t) if !key.is_admin => {
            let tenant = tenants::Entity::find_by_id(t)
                .one(conn)
                .await?
                .ok_or_else(|| {
                    AppError::Unauthorized("the key's tenant no longer exists".into())
                })?;
            Viewer::Tenant {
                tenant: TenantId(t),
                name: tenant.name,
                key_prefix: key.prefix.clone(),
            }
        }
        _ => Viewer::Admin {
            key_prefix: key.prefix.clone(),
        },
    })
}

/// Logs in with an API key: a new session (a new token on every login); returns the token
/// (for the cookie) and the session. A wrong or revoked key is `Unauthorized`.
pub async fn login(db: &DatabaseConnection, key: &str) -> AppResult<(String, Session)> {
    let found = super::keys::find_active(db, key).await?.ok_or_else(|| {
        AppError::Unauthorized(
            "that key is not valid (or was revoked); paste the whole key, it starts with sm_ \
                 or sma_"
                .into(),
        )
    })?;
    let viewer = viewer_of(db, &found).await?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let token = hex::encode(bytes);
    let at = now();
    let row = ui_sessions::ActiveModel {
        token_hash: Set(sha256_hex(&token)),
        key_id: Set(found.id),
        tenant_id: Set(found.tenant_id.filter(|_| !found.is_admin)),
        created_at: Set(at),
        last_seen_at: Set(at),
        expires_at: Set(at + Duration::hours(IDLE_HOURS)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // Sessions that ended are removed now and then, here.
    ui_sessions::Entity::delete_many()
        .filter(ui_sessions::Column::ExpiresAt.lt(at))
        .exec(db)
        .await?;
    Ok((token, Session { id: row.id, viewer }))
}

/// The session of a cookie's token, if it is live and its key still valid; it is kept alive
/// for another idle period. An ended session is removed.
pub async fn current(db: &DatabaseConnection, token: &str) -> AppResult<Option<Session>> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(session) = ui_sessions::Entity::find()
        .filter(ui_sessions::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let at = now();
    let key = api_keys::Entity::find_by_id(session.key_id).one(db).await?;
    let valid_key = key.as_ref().filter(|k| k.revoked_at.is_none());
    let too_old = at - session.created_at > Duration::days(MAX_DAYS);
    let (Some(key), false, false) = (valid_key, session.expires_at <= at, too_old) else {
        ui_sessions::Entity::delete_by_id(session.id)
            .exec(db)
            .await?;
        return Ok(None);
    };
    let viewer = match viewer_of(db, key).await {
        Ok(viewer) => viewer,
        Err(AppError::Unauthorized(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // One write a minute at most, not one per page.
    if at - session.last_seen_at > Duration::minutes(1) {
        ui_sessions::Entity::update_many()
            .col_expr(ui_sessions::Column::LastSeenAt, Expr::value(at))
            .col_expr(
                ui_sessions::Column::ExpiresAt,
                Expr::value(at + Duration::hours(IDLE_HOURS)),
            )
            .filter(ui_sessions::Column::Id.eq(session.id))
            .exec(db)
            .await?;
    }
    Ok(Some(Session {
        id: session.id,
        viewer,
    }))
}

/// Ends the session of a cookie's token (and its uploads).
pub async fn logout(db: &DatabaseConnection, token: &str) -> AppResult<()> {
    ui_sessions::Entity::delete_many()
        .filter(ui_sessions::Column::TokenHash.eq(sha256_hex(token)))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_and_secret_comparison() {
        let a = csrf_token("aa");
        assert_eq!(a.len(), 64);
        assert_eq!(a, csrf_token("aa"));
        assert_ne!(a, csrf_token("ab"));
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &csrf_token("ab")));
        assert!(!same_secret(&a, &a[..63]));
        assert!(!same_secret("", "x"));
    }
}
