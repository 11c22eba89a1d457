//! Idempotent retries: the `Idempotency-Key` of a mutating request (IETF httpapi draft, as
//! Stripe does it). A client that never heard the answer sends the same request with the same
//! key again and gets the first answer replayed instead of a second effect.
//!
//! One row per scope (a tenant's keys, or the admin's) and key, in `idempotency_keys`:
//! 1. [`begin`] claims the key for a request in its own commit, recording the request (method,
//!    path, query) and the process answering it; or finds it answered (replay it, or 422 when
//!    the request differs), still running (409), or left behind by a process that died
//!    before its effect committed (claimed anew).
//! 2. The work runs inside [`scoped`]. Every mutating service calls [`seal`] in its own
//!    transaction right before it commits: the claim is marked as done *in the effect's
//!    transaction*, so whatever happens next, a retry never repeats a committed effect.
//! 3. [`finish`] stores the response (and the body's hash) for replays, or releases the claim
//!    when nothing was sealed (the request failed, or was a dry run) so that a retry runs again.
//!
//! Which process answers is told as for runs (`runs::this_process`): on this machine by its
//! pid and start time, on another (PostgreSQL scale-out) by the heartbeat it writes every few
//! seconds while the request runs. Keys expire after 24 hours; cleanup removes them.
use super::now;
use super::runs::{owner_alive, this_process};
use crate::entity::idempotency_keys as keys;
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, SqlErr,
};

/// How long a key is remembered.
pub const TTL_HOURS: i64 = 24;
/// How often a running request's claim is refreshed (PostgreSQL).
pub const HEARTBEAT_SECS: u64 = 5;
/// A claim of another machine not refreshed for this long is left behind.
const STALE_SECS: i64 = 30;

/// Whose keys: a tenant's, or the admin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Tenant(TenantId),
    Admin,
}

impl Scope {
    fn text(self) -> String {
        match self {
            Scope::Tenant(t) => format!("tenant:{t}"),
            Scope::Admin => "admin".into(),
        }
    }
}

/// A request made with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Scope,
    pub key: String,
    /// What the request is: method, path and query (or a CLI command's words).
    pub request: String,
}

/// A key claimed for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
}

/// What [`begin`] found.
#[derive(Debug)]
pub enum Found {
    /// The key is new (or was left behind): claimed for this request.
    Claimed(Claim),
    /// A request with this key was answered: replay its response if the request is the same.
    Answered(keys::Model),
    /// A request with this key is still running.
    Running,
    /// A request with this key committed its effect, but its process stopped before it could
    /// store the response.
    Unanswered(keys::Model),
}

/// The longest `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 255;

/// Checks an `Idempotency-Key` value: 1 to 255 visible ASCII characters.
pub fn validate_key(key: &str) -> AppResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters, e.g. a UUID",
        ));
    }
    Ok(())
}

fn filter(
    q: sea_orm::Select<keys::Entity>,
    scope: Scope,
    key: &str,
) -> sea_orm::Select<keys::Entity> {
    q.filter(keys::Column::Scope.eq(scope.text()))
        .filter(keys::Column::Key.eq(key))
}

/// Whether the process that claimed `row` is gone (see the module documentation).
fn owner_gone(row: &keys::Model, at: DateTime<Utc>) -> bool {
    if row.owner == this_process() {
        return false;
    }
    match owner_alive(&row.owner) {
        Some(alive) => !alive,
        None => (at - row.heartbeat_at).num_seconds() > STALE_SECS,
    }
}

/// Looks the key up and claims it if it is free; see [`Found`].
pub async fn begin(db: &DatabaseConnection, req: &Request) -> AppResult<Found> {
    validate_key(&req.key)?;
    for _ in 0..3 {
        let at = now();
        let existing = filter(keys::Entity::find(), req.scope, &req.key)
            .one(db)
            .await?;
        match existing {
            Some(row) if row.expires_at <= at => {
                keys::Entity::delete_by_id(row.id).exec(db).await?;
            }
            Some(row) if row.status.is_some() => return Ok(Found::Answered(row)),
            Some(row) if !owner_gone(&row, at) => return Ok(Found::Running),
            Some(row) if row.sealed_at.is_some() => return Ok(Found::Unanswered(row)),
            Some(row) => {
                // Left behind before its effect committed: nothing happened, claim it anew.
                keys::Entity::delete_many()
                    .filter(keys::Column::Id.eq(row.id))
                    .filter(keys::Column::SealedAt.is_null())
                    .exec(db)
                    .await?;
            }
            None => {
                let inserted = keys::ActiveModel {
                    scope: Set(req.scope.text()),
                    tenant_id: Set(match req.scope {
                        Scope::Tenant(t) => Some(t.0),
                        Scope::Admin => None,
                    }),
                    key: Set(req.key.clone()),
                    request: Set(req.request.clone()),
                    body_hash: Set(None),
                    owner: Set(this_process().to_string()),
                    heartbeat_at: Set(at),
                    sealed_at: Set(None),
                    status: Set(None),
                    content_type: Set(None),
                    response: Set(None),
                    created_at: Set(at),
                    expires_at: Set(at + Duration::hours(TTL_HOURS)),
                    ..Default::default()
                }
                .insert(db)
                .await;
                return match inserted {
                    Ok(row) => Ok(Found::Claimed(Claim { id: row.id })),
                    // Claimed by a request with the same key a moment ago.
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                        Ok(Found::Running)
                    }
                    Err(e) => Err(e.into()),
                };
            }
        }
    }
    Ok(Found::Running)
}

tokio::task_local! {
    /// The claim of the request being answered, for [`seal`].
    static CLAIM: Claim;
}

/// Runs `work` as the request of `claim`: what it commits is sealed to the claim.
pub async fn scoped<F: std::future::Future>(claim: Claim, work: F) -> F::Output {
    CLAIM.scope(claim, work).await
}

/// Marks the claim of the request being answered (if any) as done, inside the transaction
/// `tx` of its effect; every service that changes something for a POST calls it right
/// before it commits.
pub async fn seal(tx: &impl ConnectionTrait) -> AppResult<()> {
    let Ok(claim) = CLAIM.try_with(|c| *c) else {
        return Ok(());
    };
    keys::Entity::update_many()
        .col_expr(keys::Column::SealedAt, Expr::value(now()))
        .filter(keys::Column::Id.eq(claim.id))
        .exec(tx)
        .await?;
    Ok(())
}

/// The answer to store for replays.
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    /// sha256 (hex) of the request body.
    pub body_hash: String,
}

/// After the work: stores `answer` when the work sealed the claim, else releases the claim
/// (nothing happened, so a retry runs again). Whether it was stored.
pub async fn finish(db: &DatabaseConnection, claim: Claim, answer: Answer) -> AppResult<bool> {
    let stored = keys::Entity::update_many()
        .col_expr(keys::Column::Status, Expr::value(i32::from(answer.status)))
        .col_expr(keys::Column::ContentType, Expr::value(answer.content_type))
        .col_expr(keys::Column::Response, Expr::value(answer.body))
        .col_expr(keys::Column::BodyHash, Expr::value(answer.body_hash))
        .filter(keys::Column::Id.eq(claim.id))
        .filter(keys::Column::SealedAt.is_not_null())
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !stored {
        keys::Entity::delete_many()
            .filter(keys::Column::Id.eq(claim.id))
            .filter(keys::Column::SealedAt.is_null())
            .exec(db)
            .await?;
    }
    Ok(stored)
}

/// Shows other servers that the request of `claim` still runs.
pub async fn heartbeat(db: &DatabaseConnection, claim: Claim) -> AppResult<()> {
    keys::Entity::update_many()
        .col_expr(keys::Column::HeartbeatAt, Expr::value(now()))
        .filter(keys::Column::Id.eq(claim.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes the expired keys of `tenant`; how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<u64> {
    Ok(keys::Entity::delete_many()
        .filter(keys::Column::TenantId.eq(tenant.0))
        .filter(keys::Column::ExpiresAt.lte(now()))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Removes every expired key, admin ones included (the server's daily cleanup); how many.
pub async fn purge_all_expired(conn: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(keys::Entity::delete_many()
        .filter(keys::Column::ExpiresAt.lte(now()))
        .exec(conn)
        .await?
        .rows_affected)
}
