use super::ApiTags;
use crate::entity::{source_properties, target_properties};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::list_cache::{CachedPage, ListKey};
use crate::http::paging::JsonArray;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::{ApiResult, bad_request};
use crate::ids::TenantId;
use crate::ids::{SourceId, TargetId};
use crate::service::properties::{self, ListedProperty, Owner, PropertyFilter, has_manual_changes};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

pub struct PropertiesApi(pub AppState);

/// A record of a source.
#[derive(Debug, Object)]
pub struct SourcePropertyDto {
    pub id: i64,
    pub source_id: i64,
    pub external_id: String,
    pub data: Value,
    /// sha256 of the canonical JSON of `data`.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<source_properties::Model> for SourcePropertyDto {
    fn from(m: source_properties::Model) -> Self {
        SourcePropertyDto {
            id: m.id,
            source_id: m.source_id,
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            external_id: m.external_id,
            hash: m.hash,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

/// A record of a target.
#[derive(Debug, Object)]
pub struct TargetPropertyDto {
    pub id: i64,
    pub target_id: i64,
    pub external_id: String,
    pub data: Value,
    pub hash: String,
    /// Hash of what the last sync wrote.
    pub synced_hash: Option<String>,
    /// True when someone edited the record since the last sync (`hash != synced_hash`).
    pub has_manual_changes: bool,
    /// The source record it was synced from.
    pub source_property_id: Option<i64>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<target_properties::Model> for TargetPropertyDto {
    fn from(m: target_properties::Model) -> Self {
        TargetPropertyDto {
            has_manual_changes: has_manual_changes(&m),
            id: m.id,
            target_id: m.target_id,
            data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
            external_id: m.external_id,
            hash: m.hash,
            synced_hash: m.synced_hash,
            source_property_id: m.source_property_id,
            last_synced_at: m.last_synced_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            deleted_at: m.deleted_at,
        }
    }
}

/// The stored JSON text of a record's data, checked but not parsed into a tree; `None`
/// (written as `null`, as the DTOs do) if it is not JSON.
fn stored_json(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

/// A source record written as `SourcePropertyDto` is, straight from the row.
struct SourcePropertyJson<'a>(&'a ListedProperty);

impl Serialize for SourcePropertyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut o = serializer.serialize_map(Some(8))?;
        o.serialize_entry("created_at", &m.created_at.to_rfc3339())?;
        o.serialize_entry("data", &stored_json(&m.data))?;
        o.serialize_entry("deleted_at", &m.deleted_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("external_id", &m.external_id)?;
        o.serialize_entry("hash", &m.hash)?;
        o.serialize_entry("id", &m.id)?;
        o.serialize_entry("source_id", &m.owner_id)?;
        o.serialize_entry("updated_at", &m.updated_at.to_rfc3339())?;
        o.end()
    }
}

/// A target record written as `TargetPropertyDto` is, straight from the row.
struct TargetPropertyJson<'a>(&'a ListedProperty);

impl Serialize for TargetPropertyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut o = serializer.serialize_map(Some(12))?;
        o.serialize_entry("created_at", &m.created_at.to_rfc3339())?;
        o.serialize_entry("data", &stored_json(&m.data))?;
        o.serialize_entry("deleted_at", &m.deleted_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("external_id", &m.external_id)?;
        o.serialize_entry("has_manual_changes", &m.has_manual_changes())?;
        o.serialize_entry("hash", &m.hash)?;
        o.serialize_entry("id", &m.id)?;
        o.serialize_entry("last_synced_at", &m.last_synced_at.map(|t| t.to_rfc3339()))?;
        o.serialize_entry("source_property_id", &m.source_property_id)?;
        o.serialize_entry("synced_hash", &m.synced_hash)?;
        o.serialize_entry("target_id", &m.owner_id)?;
        o.serialize_entry("updated_at", &m.updated_at.to_rfc3339())?;
        o.end()
    }
}

/// A request for a page of a source's or target's records.
struct Page {
    owner: Owner,
    path: String,
    /// The query parameters to repeat in the `Link` header (besides `limit` and `cursor`).
    query: Vec<(String, String)>,
    filter: PropertyFilter,
}

impl Page {
    /// Without a limit, every record, streamed. With one, a page: answered from the pages
    /// served before while the owner's records have not changed (one indexed read), else read,
    /// written and kept.
    async fn answer<D>(
        self,
        state: &AppState,
        tenant: TenantId,
        limit: Option<u64>,
        write_item: fn(&mut Vec<u8>, &ListedProperty),
    ) -> ApiResult<ListResponse<D>>
    where
        D: ToJSON + ParseFromJSON + Send + Sync,
    {
        let at = properties::list_state(&state.db, tenant, self.owner).await?;
        let Some(limit) = limit else {
            return self.stream(state, at, write_item).await;
        };
        let mut f = self.filter;
        f.limit = limit;
        let key = ListKey {
            owner: self.owner,
            query: format!(
                "{:?}",
                (
                    &self.query,
                    &f.after,
                    f.limit,
                    f.has_manual_changes,
                    f.changed_since,
                    f.include_deleted
                )
            ),
        };
        let kept = state.lists.get(&key, at);
        if let (Some(page), false) = (&kept, cfg!(debug_assertions)) {
            return Ok(ListResponse::Ok(
                JsonArray::from_bytes(page.body.clone()),
                page.total,
                page.link.clone(),
            ));
        }
        let (items, total) = properties::page_at(&state.db, self.owner, at, &f).await?;
        let response = paging::respond_with(
            items,
            total,
            &self.path,
            &self.query,
            Some(limit),
            |p| p.external_id.clone(),
            |out, p| write_item(out, &p),
        );
        let ListResponse::Ok(body, total, link) = &response;
        let body = body.bytes().unwrap_or_default();
        // Debug builds (the tests) check every page they would have served from the cache.
        if let Some(page) = kept {
            debug_assert_eq!(
                (&page.body, page.total, &page.link),
                (&body, *total, link),
                "a kept page differs from the records"
            );
        }
        let page = CachedPage {
            total: *total,
            link: link.clone(),
            body,
        };
        state.lists.put(key, at, page);
        Ok(response)
    }

    /// Every matching record, read [`paging::STREAM_PAGE`] at a time while the body goes out.
    async fn stream<D>(
        self,
        state: &AppState,
        at: properties::ListState,
        write_item: fn(&mut Vec<u8>, &ListedProperty),
    ) -> ApiResult<ListResponse<D>>
    where
        D: ToJSON + ParseFromJSON + Send + Sync,
    {
        let total = properties::total_at(&state.db, self.owner, at, &self.filter).await?;
        let (db, owner, filter) = (state.db.clone(), self.owner, self.filter);
        let next_page: paging::NextPage<ListedProperty> = Box::new(move |after| {
            let db = db.clone();
            let mut filter = filter.clone();
            filter.after = after;
            filter.limit = paging::STREAM_PAGE;
            Box::pin(async move { properties::rows(&db, owner, &filter).await })
        });
        Ok(paging::stream(
            total,
            next_page,
            |p| p.external_id.clone(),
            move |out, p| write_item(out, &p),
        ))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ToJSON;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn written(item: &impl Serialize) -> Value {
        let mut out = Vec::new();
        paging::write_json(&mut out, item);
        serde_json::from_slice(&out).unwrap()
    }

    /// The list endpoints write records straight from the rows; what they write must be what
    /// the documented DTOs would have written, field by field, for every kind of value.
    #[test]
    fn records_are_written_as_their_dtos() {
        let datas = [
            r#"{"id":"P1","n":1.5,"s":"\u00e9\"","a":[null,{}]}"#,
            "not json",
            "[]",
        ];
        for (i, data) in datas.into_iter().enumerate() {
            let edited = i % 2 == 1;
            let t = target_properties::Model {
                id: 7,
                tenant_id: 1,
                target_id: 3,
                external_id: "P 1/é".into(),
                source_property_id: (!edited).then_some(9),
                data: data.into(),
                hash: "h1".into(),
                synced_hash: Some(if edited { "h0" } else { "h1" }.into()),
                base_data: Some("{}".into()),
                last_synced_at: edited.then(|| at("2026-11-22T03:06:46.380903Z")),
                created_run_id: None,
                run_id: Some(2),
                created_at: at("2026-11-21T10:00:00Z"),
                updated_at: at("2026-11-22T03:06:46.5+01:00"),
                deleted_at: edited.then(|| at("2026-11-22T04:00:00.000001Z")),
            };
            let dto = TargetPropertyDto::from(t.clone()).to_json().unwrap();
            let listed = ListedProperty::from(t.clone());
            assert_eq!(written(&TargetPropertyJson(&listed)), dto, "{data}");
            let s = source_properties::Model {
                id: 9,
                tenant_id: 1,
                source_id: 4,
                external_id: t.external_id.clone(),
                data: data.into(),
                hash: "h2".into(),
                raw_hash: Some("r".into()),
                created_run_id: Some(1),
                run_id: None,
                created_at: t.created_at,
                updated_at: t.updated_at,
                deleted_at: t.deleted_at,
            };
            let dto = SourcePropertyDto::from(s.clone()).to_json().unwrap();
            let listed = ListedProperty::from(s.clone());
            assert_eq!(written(&SourcePropertyJson(&listed)), dto, "{data}");
        }
    }
}
