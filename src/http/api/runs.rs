use super::ApiTags;
use crate::entity::runs as run_entity;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::ApiResult;
use crate::ids::RunId;
use crate::service::{runs, snapshots};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

pub struct RunsApi(pub AppState);

/// One import, sync, edit, restore, rollback, resolve or cleanup.
#[derive(Debug, Object)]
pub struct RunDto {
    pub id: i64,
    pub kind: String,
    /// running, succeeded or rolled_back.
    pub status: String,
    pub source_id: Option<i64>,
    pub target_id: Option<i64>,
    pub stats: Value,
    pub detail: Option<Value>,
    /// An API key prefix, or `cli`.
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<run_entity::Model> for RunDto {
    fn from(m: run_entity::Model) -> Self {
        RunDto {
            id: m.id,
            kind: m.kind,
            status: m.status,
            source_id: m.source_id,
            target_id: m.target_id,
            stats: serde_json::from_str(&m.stats).unwrap_or(Value::Null),
            detail: m.detail.and_then(|d| serde_json::from_str(&d).ok()),
            actor: m.actor,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

/// A record a rollback left alone.
#[derive(Debug, Object)]
pub struct SkippedDto {
    /// source or target.
    pub property_kind: String,
    pub external_id: String,
    pub reason: String,
}

/// What a rollback did.
#[derive(Debug, Object)]
pub struct RollbackResult {
    /// The rollback's own run.
    pub run_id: i64,
    pub rolled_back_run_id: i64,
    /// Records returned to their pre-run version.
    pub restored: u64,
    /// Records the run had created, removed again.
    pub removed: u64,
    /// Records changed again since, left alone.
    pub skipped: Vec<SkippedDto>,
}

#[OpenApi(tag = "ApiTags::Runs")]
impl RunsApi {
    /// List runs
    ///
    /// Newest first, as a top-level JSON array.
    #[oai(path = "/runs", method = "get")]
    async fn list(
        &self,
        auth: TenantKey,
        /// Page size (1 to 1000); without it, every run in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<RunDto>> {
        let limit = paging::limit(limit.0)?;
        let before = paging::id_cursor::<RunId>(cursor.0)?;
        let tenant = auth.0.tenant;
        let total = runs::count(&self.0.db, tenant).await?;
        let Some(limit) = limit else {
            let db = self.0.db.clone();
            let next_page: paging::NextPage<run_entity::Model> = Box::new(move |after| {
                let db = db.clone();
                let before = after.and_then(|a| a.parse().ok()).map(RunId).or(before);
                Box::pin(async move { runs::list(&db, tenant, paging::STREAM_PAGE, before).await })
            });
            return Ok(paging::stream(
                total,
                next_page,
                |r| r.id.to_string(),
                paging::write_item::<RunDto, _>,
            ));
        };
        let items = runs::list(&self.0.db, tenant, limit, before).await?;
        Ok(paging::respond(
            items,
            total,
            "/runs",
            &[],
            Some(limit),
            |r| r.id.to_string(),
        ))
    }

    /// Get one run
    ///
    /// Kind, status, stats, details (per-record errors of an import, skipped records of a rollback) and who ran it.
    #[oai(path = "/runs/:id", method = "get")]
    async fn get(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Json<RunDto>> {
        Ok(Json(
            runs::get(&self.0.db, auth.0.tenant, RunId(id.0))
                .await?
                .into(),
        ))
    }

    /// Roll back a run
    ///
    /// Every record the run changed returns to its pre-run snapshot, records it created are
    /// removed; records changed again since are skipped and reported. Recorded as a run.
    #[oai(path = "/runs/:id/rollback", method = "post")]
    async fn rollback(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        id: Path<i64>,
    ) -> ApiResult<Json<RollbackResult>> {
        let out =
            snapshots::rollback_run(&self.0.db, auth.0.tenant, RunId(id.0), &auth.0.actor).await?;
        Ok(Json(RollbackResult {
            run_id: out.run_id.0,
            rolled_back_run_id: out.rolled_back_run_id.0,
            restored: out.restored,
            removed: out.removed,
            skipped: out
                .skipped
                .into_iter()
                .map(|s| SkippedDto {
                    property_kind: s.property_kind.as_str().to_string(),
                    external_id: s.external_id,
                    reason: s.reason,
                })
                .collect(),
        }))
    }
}
