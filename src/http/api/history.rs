//! The history of records: their snapshots, and restoring one.
use super::ApiTags;
use crate::entity::snapshots as snapshot_entity;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::ApiResult;
use crate::ids::Side;
use crate::ids::{SnapshotId, SourceId, TargetId};
use crate::service::properties;
use crate::service::snapshots;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

/// A previous version of a record.
#[derive(Debug, Object)]
pub struct SnapshotDto {
    pub id: i64,
    /// source or target.
    pub property_kind: String,
    pub property_id: i64,
    pub external_id: String,
    pub data: Value,
    pub hash: String,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Why it was taken: import, sync, manual edit, restore, rollback, resolve…
    pub reason: String,
    /// The run that replaced this version.
    pub run_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<snapshot_entity::Model> for SnapshotDto {
    fn from(m: snapshot_entity::Model) -> Self {
        SnapshotDto {
            id: m.id,
            property_kind: m.property_kind,
            property_id: m.property_id,
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            external_id: m.external_id,
            hash: m.hash,
            deleted_at: m.deleted_at,
            reason: m.reason,
            run_id: m.run_id,
            created_at: m.created_at,
        }
    }
}

/// What a restore did.
#[derive(Debug, Object)]
pub struct RestoreResult {
    /// The restore's run.
    pub run_id: i64,
    /// source or target.
    pub property_kind: String,
    pub external_id: String,
}

pub struct HistoryApi(pub AppState);

#[OpenApi(tag = "ApiTags::Properties")]
impl HistoryApi {
    /// History of a source record
    ///
    /// Its previous versions, newest first.
    #[oai(
        path = "/sources/:id/properties/:external_id/snapshots",
        method = "get"
    )]
    async fn source_history(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
        /// Page size (1 to 1000); without it, every item in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<SnapshotDto>> {
        let p = properties::get_source(&self.0.db, auth.0.tenant, SourceId(id.0), &external_id.0)
            .await?;
        let all =
            snapshots::list_for_property(&self.0.db, auth.0.tenant, Side::Source, p.id).await?;
        let path = format!(
            "/sources/{}/properties/{}/snapshots",
            id.0,
            paging::encode(&external_id.0)
        );
        paging::page_in_memory(all, |s| s.id, true, &path, limit.0, cursor.0)
    }

    /// History of a target record
    ///
    /// Its previous versions, newest first.
    #[oai(
        path = "/targets/:id/properties/:external_id/snapshots",
        method = "get"
    )]
    async fn target_history(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
        /// Page size (1 to 1000); without it, every item in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<SnapshotDto>> {
        let p = properties::get_target(&self.0.db, auth.0.tenant, TargetId(id.0), &external_id.0)
            .await?;
        let all =
            snapshots::list_for_property(&self.0.db, auth.0.tenant, Side::Target, p.id).await?;
        let path = format!(
            "/targets/{}/properties/{}/snapshots",
            id.0,
            paging::encode(&external_id.0)
        );
        paging::page_in_memory(all, |s| s.id, true, &path, limit.0, cursor.0)
    }

    /// Restore a snapshot
    ///
    /// Puts that version back onto its record (the current version is snapshotted first). On a
    /// target this counts as a manual edit, so the next sync merges rather than overwrites.
    #[oai(path = "/snapshots/:id/restore", method = "post")]
    async fn restore(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        id: Path<i64>,
    ) -> ApiResult<Json<RestoreResult>> {
        let out =
            snapshots::restore(&self.0.db, auth.0.tenant, SnapshotId(id.0), &auth.0.actor).await?;
        Ok(Json(RestoreResult {
            run_id: out.run_id.0,
            property_kind: out.property_kind.as_str().to_string(),
            external_id: out.external_id,
        }))
    }
}
