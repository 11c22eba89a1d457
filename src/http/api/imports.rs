use super::ApiTags;
use crate::domain::stats::ImportStats;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::body::{BodyFault, BodyReader};
use crate::http::problem::{ApiResult, RecordErrorDto, too_large, too_slow};
use crate::ids::SourceId;
use crate::ingest::json_stream::Shape;
use crate::service::imports::{self, ImportInput, ImportOptions};
use poem::{FromRequest, RequestBody};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiRequest, Enum, Object, OpenApi};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub struct ImportsApi(pub AppState);

#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
pub enum ModeDto {
    /// Records absent from `data` are left alone.
    #[default]
    Upsert,
    /// `data` is the complete set: live records absent from it are soft-deleted.
    Full,
}

/// Records to import.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ImportBody {
    /// The records: JSON objects, each with an `external_id` or `id` (string or integer).
    pub data: Vec<Value>,
    /// `upsert` (default) or `full`.
    pub mode: Option<ModeDto>,
    /// Reject the whole batch if any record is invalid.
    pub strict: Option<bool>,
    /// Let a `full` import delete more than the source's `max_delete_fraction`.
    pub force: Option<bool>,
}

impl poem_openapi::types::Example for ImportBody {
    fn example() -> Self {
        ImportBody {
            data: vec![
                serde_json::json!({"id": "PROP001", "title": "Villa in Marbella", "price": 950000}),
            ],
            mode: Some(ModeDto::Upsert),
            strict: Some(false),
            force: None,
        }
    }
}

/// Counts of an import.
#[derive(Debug, Object)]
pub struct ImportStatsDto {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub restored: u64,
    pub rejected: u64,
}

impl From<ImportStats> for ImportStatsDto {
    fn from(s: ImportStats) -> Self {
        ImportStatsDto {
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
            deleted: s.deleted,
            restored: s.restored,
            rejected: s.rejected,
        }
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Object)]
pub struct ImportResult {
    pub stats: ImportStatsDto,
    /// Rejected records, and records superseded by a later one with the same id.
    pub errors: Vec<RecordErrorDto>,
    /// The run recorded; null for a dry run.
    pub run_id: Option<i64>,
    pub dry_run: bool,
}

/// A JSON import body, read as a stream (never parsed whole): `ImportBody`, or the records
/// alone as an array.
pub struct JsonImport(poem::Body);

/// An NDJSON import body: one record (a JSON object) per line, read as a stream.
pub struct NdjsonImport(poem::Body);

impl Payload for JsonImport {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        <Json<ImportBody> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "`{\"data\": [records], \"mode\", \"strict\", \"force\"}`, or the records alone \
                 as a JSON array",
            ),
            one_of: vec![
                <ImportBody as Type>::schema_ref(),
                <Vec<Value> as Type>::schema_ref(),
            ],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        <ImportBody as Type>::register(registry);
        <Vec<Value> as Type>::register(registry);
    }
}

impl ParsePayload for JsonImport {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &poem::Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(JsonImport(poem::Body::from_request(request, body).await?))
    }
}

impl Payload for NdjsonImport {
    const CONTENT_TYPE: &'static str = "application/x-ndjson";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/x-ndjson")
            || essence.eq_ignore_ascii_case("application/jsonl")
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some(
                "one record (a JSON object with an `external_id` or `id`) per line; options \
                 cannot be given this way (mode upsert, not strict)",
            ),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for NdjsonImport {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &poem::Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(NdjsonImport(poem::Body::from_request(request, body).await?))
    }
}

/// What an import takes.
#[derive(ApiRequest)]
pub enum ImportRequest {
    /// `{"data": [records], "mode": …, "strict": …, "force": …}` (fields in any order), or
    /// the records alone as an array.
    Json(JsonImport),
    /// One record per line.
    Ndjson(NdjsonImport),
}

#[OpenApi(tag = "ApiTags::Imports")]
impl ImportsApi {
    /// Import records into a source
    ///
    /// One transaction: fully applied or not at all. Unchanged records (same hash) are not
    /// written; changed ones are snapshotted first. Invalid records are reported in `errors`
    /// (or, with `strict`, reject the batch with 422). The body is read as it arrives, record
    /// by record (bounded memory), as `{"data": [...], "mode": …}`, a bare JSON array, or NDJSON
    /// (`Content-Type: application/x-ndjson`).
    #[oai(path = "/sources/:id/import", method = "post")]
    async fn import(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        id: Path<i64>,
        body: ImportRequest,
        /// Compute the stats, write nothing.
        dry_run: Query<Option<bool>>,
    ) -> ApiResult<Json<ImportResult>> {
        let (body, shape) = match body {
            ImportRequest::Json(JsonImport(b)) => (b, Shape::ArrayOrObject),
            ImportRequest::Ndjson(NdjsonImport(b)) => (b, Shape::Lines),
        };
        let fault = Arc::new(BodyFault::default());
        let reader = BodyReader::new(body, self.0.max_body_bytes, fault.clone());
        let opts = ImportOptions {
            dry_run: dry_run.0.unwrap_or(false),
            ..Default::default()
        };
        let out = imports::import_keeping_index(
            &self.0.db,
            &self.0.indexes,
            auth.0.tenant,
            SourceId(id.0),
            ImportInput::Body(Box::new(reader), shape),
            opts,
            &auth.0.actor,
            None,
        )
        .await;
        if fault.too_large.load(Ordering::Relaxed) {
            return Err(too_large(self.0.max_body_bytes));
        }
        if fault.too_slow.load(Ordering::Relaxed) {
            return Err(too_slow(self.0.read_timeout));
        }
        let out = out?;
        Ok(Json(ImportResult {
            stats: out.stats.into(),
            errors: out.errors.into_iter().map(Into::into).collect(),
            run_id: out.run_id.map(|r| r.0),
            dry_run: out.dry_run,
        }))
    }
}
