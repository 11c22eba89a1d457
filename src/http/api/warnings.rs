use super::ApiTags;
use super::sync::FieldDto;
use crate::entity::warnings as warning_entity;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::paging::{self, ListResponse};
use crate::http::problem::{ApiResult, unprocessable};
use crate::ids::WarningId;
use crate::service::warnings::{self, Choice, Resolution, WarningFilter};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object, OpenApi};

pub struct WarningsApi(pub AppState);

/// Something a human must look at.
#[derive(Debug, Object)]
pub struct WarningDto {
    pub id: i64,
    /// conflict, kept_target, overwritten, deleted_manual or rejected.
    pub kind: String,
    /// open or resolved.
    pub status: String,
    pub message: String,
    pub source_id: Option<i64>,
    pub target_id: Option<i64>,
    pub target_property_id: Option<i64>,
    pub external_id: Option<String>,
    /// Per field: base, source and target values.
    pub fields: Vec<FieldDto>,
    pub resolution: Option<String>,
    pub run_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<warning_entity::Model> for WarningDto {
    fn from(m: warning_entity::Model) -> Self {
        WarningDto {
            fields: warnings::fields(&m).into_iter().map(Into::into).collect(),
            id: m.id,
            kind: m.kind,
            status: m.status,
            message: m.message,
            source_id: m.source_id,
            target_id: m.target_id,
            target_property_id: m.target_property_id,
            external_id: m.external_id,
            resolution: m.resolution,
            run_id: m.run_id,
            created_at: m.created_at,
            resolved_at: m.resolved_at,
        }
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ResolutionDto {
    /// Accept the manual (target) values.
    KeepTarget,
    /// Apply the source values of the fields concerned.
    TakeSource,
}

impl From<ResolutionDto> for Resolution {
    fn from(r: ResolutionDto) -> Self {
        match r {
            ResolutionDto::KeepTarget => Resolution::KeepTarget,
            ResolutionDto::TakeSource => Resolution::TakeSource,
        }
    }
}

/// How to resolve a warning: `resolution` for all its fields, or `fields` with a choice per
/// field (every field of the warning), e.g. `{"fields": {"title": "keep_target", "price":
/// "take_source"}}`.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ResolveBody {
    pub resolution: MaybeUndefined<ResolutionDto>,
    pub fields: MaybeUndefined<std::collections::BTreeMap<String, ResolutionDto>>,
}

/// The outcome of a resolution.
#[derive(Debug, Object)]
pub struct ResolveResult {
    /// The resolution's run.
    pub run_id: i64,
    /// Whether the target record changed.
    pub changed: bool,
    pub warning: WarningDto,
}

#[OpenApi(tag = "ApiTags::Warnings")]
impl WarningsApi {
    /// List warnings
    ///
    /// Newest first, as a top-level JSON array.
    #[oai(path = "/warnings", method = "get")]
    async fn list(
        &self,
        auth: TenantKey,
        /// open or resolved (default: both).
        status: Query<Option<String>>,
        /// Page size (1 to 1000); without it, every matching warning in one array.
        limit: Query<Option<u64>>,
        /// From the `Link` header of the previous page.
        cursor: Query<Option<String>>,
    ) -> ApiResult<ListResponse<WarningDto>> {
        let limit = paging::limit(limit.0)?;
        let before = paging::id_cursor::<WarningId>(cursor.0)?;
        let mut filter = WarningFilter {
            status: status.0.clone(),
            ..Default::default()
        };
        let tenant = auth.0.tenant;
        let total = warnings::count(&self.0.db, tenant, &filter).await?;
        filter.before = before;
        let Some(limit) = limit else {
            let db = self.0.db.clone();
            let next_page: paging::NextPage<warning_entity::Model> = Box::new(move |after| {
                let db = db.clone();
                let mut filter = filter.clone();
                if let Some(after) = after.and_then(|a| a.parse().ok()) {
                    filter.before = Some(WarningId(after));
                }
                filter.limit = paging::STREAM_PAGE;
                Box::pin(async move { warnings::list(&db, tenant, &filter).await })
            });
            return Ok(paging::stream(
                total,
                next_page,
                |w| w.id.to_string(),
                paging::write_item::<WarningDto, _>,
            ));
        };
        filter.limit = limit;
        let items = warnings::list(&self.0.db, tenant, &filter).await?;
        let query: Vec<(String, String)> = status
            .0
            .map(|s| ("status".to_string(), s))
            .into_iter()
            .collect();
        Ok(paging::respond(
            items,
            total,
            "/warnings",
            &query,
            Some(limit),
            |w| w.id.to_string(),
        ))
    }

    /// Get one warning
    ///
    /// With the base, source and target value of every field concerned.
    #[oai(path = "/warnings/:id", method = "get")]
    async fn get(&self, auth: TenantKey, id: Path<i64>) -> ApiResult<Json<WarningDto>> {
        Ok(Json(
            warnings::get(&self.0.db, auth.0.tenant, WarningId(id.0))
                .await?
                .into(),
        ))
    }

    /// Resolve a warning
    ///
    /// `keep_target` accepts the manual values (and brings back values an overwrite replaced,
    /// or a record a deletion removed); `take_source` applies the source values; `fields`
    /// chooses per field. The record is snapshotted first; the resolution is recorded as a run.
    #[oai(path = "/warnings/:id/resolve", method = "post")]
    async fn resolve(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        id: Path<i64>,
        body: Json<ResolveBody>,
    ) -> ApiResult<Json<ResolveResult>> {
        // Exactly one of the two, and not null (the document's `oneOf`).
        let choice = match (body.0.resolution, body.0.fields) {
            (MaybeUndefined::Value(r), MaybeUndefined::Undefined) => Choice::All(r.into()),
            (MaybeUndefined::Undefined, MaybeUndefined::Value(fields)) => {
                Choice::Fields(fields.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
            _ => {
                return Err(unprocessable(
                    "send either {\"resolution\": \"keep_target\" | \"take_source\"} or \
                     {\"fields\": {\"<field>\": \"keep_target\" | \"take_source\", …}}",
                ));
            }
        };
        let id = WarningId(id.0);
        let out =
            warnings::resolve_with(&self.0.db, auth.0.tenant, id, &choice, &auth.0.actor).await?;
        let warning = warnings::get(&self.0.db, auth.0.tenant, id).await?;
        Ok(Json(ResolveResult {
            run_id: out.run_id.0,
            changed: out.changed,
            warning: warning.into(),
        }))
    }
}

impl poem_openapi::types::Example for ResolveBody {
    fn example() -> Self {
        ResolveBody {
            resolution: MaybeUndefined::Value(ResolutionDto::KeepTarget),
            fields: MaybeUndefined::Undefined,
        }
    }
}
