//! `/sources`: where records come from (list, create, read, change, delete).
use super::ApiTags;
use super::endpoints::{CreateBody, Created, Deleted, EndpointDto, PatchBody};
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::ApiResult;
use crate::ids::SourceId;
use crate::service::endpoints::{EndpointUpdate, NewEndpoint};
use crate::service::sources;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;

pub struct SourcesApi(pub AppState);

#[OpenApi(tag = "ApiTags::Sources")]
impl SourcesApi {
    /// List sources
    ///
    /// All of the tenant's, oldest first, as a top-level JSON array.
    #[oai(path = "/sources", method = "get")]
    async fn list(
        &self,
        auth: TenantKey,
        /// Page size (1 to 1000); without it, every item in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<EndpointDto>> {
        let all = sources::list(&self.0.db, auth.0.tenant).await?;
        paging::page_in_memory(all, |e| e.id, false, "/sources", limit.0, cursor.0)
    }

    /// Create a source
    ///
    /// `type` and `config` are validated; the response is the stored resource.
    #[oai(path = "/sources", method = "post")]
    async fn create(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        body: Json<CreateBody>,
    ) -> ApiResult<Created> {
        let new = NewEndpoint {
            name: body.0.name.0,
            kind: body.0.kind.map_or_else(|| "json".into(), |k| k.0),
            config: body.0.config,
        };
        let created = sources::create(&self.0.db, auth.0.tenant, new).await?;
        Ok(Created::Created(Json(created.into())))
    }

    /// Get a source
    ///
    /// Another tenant's is reported exactly like a missing one (404).
    #[oai(path = "/sources/:id", method = "get")]
    async fn get(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Json<EndpointDto>> {
        let found = sources::get(&self.0.db, auth.0.tenant, SourceId(id.0)).await?;
        Ok(Json(found.into()))
    }

    /// Change a source
    ///
    /// A JSON merge patch: `name`, `type` and `config` (replaced whole) may be sent.
    #[oai(path = "/sources/:id", method = "patch")]
    async fn patch(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        body: Json<PatchBody>,
    ) -> ApiResult<Json<EndpointDto>> {
        let update = EndpointUpdate {
            name: body.0.name.map(|n| n.0),
            kind: body.0.kind.map(|k| k.0),
            config: body.0.config,
        };
        let updated = sources::update(&self.0.db, auth.0.tenant, SourceId(id.0), update).await?;
        Ok(Json(updated.into()))
    }

    /// Delete a source
    ///
    /// Deletes it with all its properties.
    #[oai(path = "/sources/:id", method = "delete")]
    async fn delete(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Deleted> {
        sources::delete(&self.0.db, auth.0.tenant, SourceId(id.0)).await?;
        Ok(Deleted::Deleted)
    }
}
