//! Records of sources and targets: lists, one record, hand edits, manual entry.
use super::ApiTags;
use super::list_page::Page;
use super::property_dto::{
    SourcePropertyDto, SourcePropertyJson, TargetPropertyDto, TargetPropertyJson,
};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::{ApiResult, bad_request};
use crate::ids::{SourceId, TargetId};
use crate::service::properties::{self, Owner, PropertyFilter};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use serde_json::Value;

pub struct PropertiesApi(pub AppState);

fn since(value: Option<String>) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| {
                    bad_request(format!(
                        "changed_since must be an RFC 3339 timestamp like 2026-11-21T10:00:00Z: {e}"
                    ))
                })
        })
        .transpose()
}

#[OpenApi(tag = "ApiTags::Properties")]
impl PropertiesApi {
    /// List a source's records
    ///
    /// Ordered by external id, as a top-level JSON array. Soft-deleted records are left out,
    /// unless `include_deleted=true` or `changed_since` is given: then they come back with
    /// `deleted_at` set.
    #[oai(path = "/sources/:id/properties", method = "get")]
    async fn list_source(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        /// Only records changed at or after this RFC 3339 instant, including the ones deleted
        /// since (with `deleted_at` set).
        changed_since: Query<Option<String>>,
        /// Also list soft-deleted records (with `deleted_at` set).
        include_deleted: Query<Option<bool>>,
        /// Page size (1 to 1000); without it, every matching record in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<SourcePropertyDto>> {
        let limit = paging::limit(limit.0)?;
        let filter = PropertyFilter {
            changed_since: since(changed_since.0.clone())?,
            include_deleted: include_deleted.0.unwrap_or(false),
            after: paging::text_cursor(cursor.0)?,
            ..Default::default()
        };
        let mut query = Vec::new();
        if let Some(c) = changed_since.0 {
            query.push(("changed_since".to_string(), c));
        }
        if let Some(d) = include_deleted.0 {
            query.push(("include_deleted".to_string(), d.to_string()));
        }
        let page = Page {
            owner: Owner::Source(SourceId(id.0)),
            path: format!("/sources/{}/properties", id.0),
            query,
            filter,
        };
        page.answer(&self.0, auth.0.tenant, limit, |out, p| {
            paging::write_json(out, &SourcePropertyJson(p))
        })
        .await
    }

    /// Get one record of a source
    ///
    /// With its data, hash and timestamps; soft-deleted records are returned too, with `deleted_at` set.
    #[oai(path = "/sources/:id/properties/:external_id", method = "get")]
    async fn get_source(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
    ) -> ApiResult<Json<SourcePropertyDto>> {
        let p = properties::get_source(&self.0.db, auth.0.tenant, SourceId(id.0), &external_id.0)
            .await?;
        Ok(Json(p.into()))
    }

    /// List a target's records
    ///
    /// Ordered by external id, as a top-level JSON array, so that
    /// `jq '.[] | select(.has_manual_changes)'` works. Soft-deleted records (a listing the
    /// source no longer has) are left out, unless `include_deleted=true` or `changed_since`
    /// is given: then they come back with `deleted_at` set, so a website polling for changes
    /// removes them.
    #[oai(path = "/targets/:id/properties", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list_target(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        /// Only records edited by hand since the last sync (or, with false, only the others).
        has_manual_changes: Query<Option<bool>>,
        /// Only records changed at or after this RFC 3339 instant, including the ones deleted
        /// since (with `deleted_at` set).
        changed_since: Query<Option<String>>,
        /// Also list soft-deleted records (with `deleted_at` set).
        include_deleted: Query<Option<bool>>,
        /// Page size (1 to 1000); without it, every matching record in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<TargetPropertyDto>> {
        let limit = paging::limit(limit.0)?;
        let filter = PropertyFilter {
            has_manual_changes: has_manual_changes.0,
            changed_since: since(changed_since.0.clone())?,
            include_deleted: include_deleted.0.unwrap_or(false),
            after: paging::text_cursor(cursor.0)?,
            ..Default::default()
        };
        let mut query = Vec::new();
        if let Some(m) = has_manual_changes.0 {
            query.push(("has_manual_changes".to_string(), m.to_string()));
        }
        if let Some(c) = changed_since.0 {
            query.push(("changed_since".to_string(), c));
        }
        if let Some(d) = include_deleted.0 {
            query.push(("include_deleted".to_string(), d.to_string()));
        }
        let page = Page {
            owner: Owner::Target(TargetId(id.0)),
            path: format!("/targets/{}/properties", id.0),
            query,
            filter,
        };
        page.answer(&self.0, auth.0.tenant, limit, |out, p| {
            paging::write_json(out, &TargetPropertyJson(p))
        })
        .await
    }

    /// Get one record of a target
    ///
    /// With `has_manual_changes` and what the last sync wrote (`synced_hash`).
    #[oai(path = "/targets/:id/properties/:external_id", method = "get")]
    async fn get_target(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
    ) -> ApiResult<Json<TargetPropertyDto>> {
        let p = properties::get_target(&self.0.db, auth.0.tenant, TargetId(id.0), &external_id.0)
            .await?;
        Ok(Json(p.into()))
    }

    /// Edit a target record by hand
    ///
    /// An RFC 7396 JSON merge patch of the record, of which only `data` is writable:
    /// `{"data": {"title": "New"}}` sets a field, `{"data": {"pool": null}}` removes one. The
    /// old version is snapshotted; the next sync keeps the edit (see the target's
    /// `conflict_policy`).
    #[oai(path = "/targets/:id/properties/:external_id", method = "patch")]
    async fn patch_target(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
        body: Json<Value>,
    ) -> ApiResult<Json<TargetPropertyDto>> {
        let (p, _) = properties::patch_target(
            &self.0.db,
            auth.0.tenant,
            TargetId(id.0),
            &external_id.0,
            &body.0,
            &auth.0.actor,
        )
        .await?;
        Ok(Json(p.into()))
    }

    /// Add a record to a manual source
    ///
    /// The body is the record: a JSON object with an `external_id` or `id`. Only sources of
    /// type `manual` accept manual entry (409 otherwise).
    #[oai(path = "/sources/:id/properties", method = "post")]
    async fn create_source(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        id: Path<i64>,
        body: Json<Value>,
    ) -> ApiResult<SourcePropertyCreated> {
        let p = properties::create_manual(
            &self.0.db,
            auth.0.tenant,
            SourceId(id.0),
            &body.0,
            &auth.0.actor,
        )
        .await?;
        Ok(SourcePropertyCreated::Created(Json(p.into())))
    }

    /// Edit a record of a manual source
    ///
    /// A JSON merge patch of the record, of which only `data` is writable.
    #[oai(path = "/sources/:id/properties/:external_id", method = "patch")]
    async fn patch_source(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
        body: Json<Value>,
    ) -> ApiResult<Json<SourcePropertyDto>> {
        let p = properties::patch_manual(
            &self.0.db,
            auth.0.tenant,
            SourceId(id.0),
            &external_id.0,
            &body.0,
            &auth.0.actor,
        )
        .await?;
        Ok(Json(p.into()))
    }

    /// Delete a record of a manual source
    ///
    /// A soft delete: the next sync applies the target's `delete_policy`.
    #[oai(path = "/sources/:id/properties/:external_id", method = "delete")]
    async fn delete_source(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        external_id: Path<String>,
    ) -> ApiResult<PropertyDeleted> {
        properties::delete_manual(
            &self.0.db,
            auth.0.tenant,
            SourceId(id.0),
            &external_id.0,
            &auth.0.actor,
        )
        .await?;
        Ok(PropertyDeleted::Deleted)
    }
}

#[derive(ApiResponse)]
pub enum SourcePropertyCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<SourcePropertyDto>),
}

#[derive(ApiResponse)]
pub enum PropertyDeleted {
    /// Soft-deleted (a snapshot keeps the last version).
    #[oai(status = 204)]
    Deleted,
}
