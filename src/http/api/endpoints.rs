//! `/sources` and `/targets`: the same five operations over the two kinds of endpoint.
use super::ApiTags;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::ApiResult;
#[allow(unused_imports)]
use crate::http::strict::Strict;
use crate::ids::{SourceId, TargetId};
use crate::service::endpoints::{EndpointUpdate, NewEndpoint};
use crate::service::{sources, targets};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

/// A source or a target.
#[derive(Debug, Clone, Object)]
pub struct EndpointDto {
    pub id: i64,
    pub name: String,
    /// Sources: json, scraped, manual, api (records are imported into each; nothing is fetched
    /// yet; CSV import is not there yet). Targets: website (your website reads the records
    /// through this API), database, api, webhook, file (for now the records are kept here;
    /// nothing is sent yet).
    #[oai(rename = "type")]
    pub kind: String,
    /// Settings: sources understand `max_delete_fraction`, targets `conflict_policy` (merge,
    /// keep_target, overwrite) and `delete_policy` (mark, ignore); other keys are refused (422).
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! to_dto {
    ($m:expr) => {{
        let m = $m;
        EndpointDto {
            id: m.id,
            config: serde_json::from_str(&m.config).unwrap_or(Value::Null),
            name: m.name,
            kind: m.kind,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }};
}

impl From<crate::entity::sources::Model> for EndpointDto {
    fn from(m: crate::entity::sources::Model) -> Self {
        to_dto!(m)
    }
}

impl From<crate::entity::targets::Model> for EndpointDto {
    fn from(m: crate::entity::targets::Model) -> Self {
        to_dto!(m)
    }
}

/// A new source or target.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct CreateBody {
    pub name: Strict<String>,
    /// The type (sources default to `json`, targets to `website`).
    #[oai(rename = "type")]
    pub kind: Option<Strict<String>>,
    /// A JSON object of settings (default `{}`); a key the type does not understand is
    /// refused (422).
    pub config: Option<Value>,
}

impl poem_openapi::types::Example for CreateBody {
    fn example() -> Self {
        CreateBody {
            name: Strict("Listings portal".into()),
            kind: Some(Strict("scraped".into())),
            config: Some(serde_json::json!({"max_delete_fraction": 0.2})),
        }
    }
}

/// A JSON merge patch of a source or target: fields present are replaced.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PatchBody {
    pub name: Option<Strict<String>>,
    #[oai(rename = "type")]
    pub kind: Option<Strict<String>>,
    /// Replaces the whole config object.
    pub config: Option<Value>,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Created.
    #[oai(status = 201)]
    Created(Json<EndpointDto>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted, with all its properties.
    #[oai(status = 204)]
    Deleted,
}

macro_rules! endpoint_api {
    ($api:ident, $service:ident, $Id:ident, $tag:literal, $list:literal, $item:literal, $default_type:literal, [$list_doc:literal, $create_doc:literal, $get_doc:literal, $patch_doc:literal, $delete_doc:literal]) => {
        pub struct $api(pub AppState);

        #[OpenApi(tag = $tag)]
        impl $api {
            #[doc = $list_doc]
            ///
            /// All of the tenant's, oldest first, as a top-level JSON array.
            #[oai(path = $list, method = "get")]
            async fn list(
                &self,
                auth: TenantKey,
                /// Page size (1 to 1000); without it, every item in one array.
                limit: Query<Option<u64>>,
                /// From the `Link` header of the previous page.
                cursor: Query<Option<String>>,
            ) -> ApiResult<ListResponse<EndpointDto>> {
                let all = $service::list(&self.0.db, auth.0.tenant).await?;
                paging::page_in_memory(all, |e| e.id, false, $list, limit.0, cursor.0)
            }

            #[doc = $create_doc]
            ///
            /// `type` and `config` are validated; the response is the stored resource.
            #[oai(path = $list, method = "post")]
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
                    kind: body.0.kind.map_or_else(|| $default_type.into(), |k| k.0),
                    config: body.0.config,
                };
                let created = $service::create(&self.0.db, auth.0.tenant, new).await?;
                Ok(Created::Created(Json(created.into())))
            }

            #[doc = $get_doc]
            ///
            /// Another tenant's is reported exactly like a missing one (404).
            #[oai(path = $item, method = "get")]
            async fn get(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Json<EndpointDto>> {
                let found = $service::get(&self.0.db, auth.0.tenant, $Id(id.0)).await?;
                Ok(Json(found.into()))
            }

            #[doc = $patch_doc]
            ///
            /// A JSON merge patch: `name`, `type` and `config` (replaced whole) may be sent.
            #[oai(path = $item, method = "patch")]
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
                let updated =
                    $service::update(&self.0.db, auth.0.tenant, $Id(id.0), update).await?;
                Ok(Json(updated.into()))
            }

            #[doc = $delete_doc]
            ///
            /// Deletes it with all its properties.
            #[oai(path = $item, method = "delete")]
            async fn delete(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Deleted> {
                $service::delete(&self.0.db, auth.0.tenant, $Id(id.0)).await?;
                Ok(Deleted::Deleted)
            }
        }
    };
}

endpoint_api!(
    SourcesApi,
    sources,
    SourceId,
    "ApiTags::Sources",
    "/sources",
    "/sources/:id",
    "json",
    [
        "List sources",
        "Create a source",
        "Get a source",
        "Change a source",
        "Delete a source"
    ]
);
endpoint_api!(
    TargetsApi,
    targets,
    TargetId,
    "ApiTags::Targets",
    "/targets",
    "/targets/:id",
    "website",
    [
        "List targets",
        "Create a target",
        "Get a target",
        "Change a target",
        "Delete a target"
    ]
);

impl poem_openapi::types::Example for PatchBody {
    fn example() -> Self {
        PatchBody {
            name: None,
            kind: None,
            config: Some(serde_json::json!({"conflict_policy": "keep_target"})),
        }
    }
}
