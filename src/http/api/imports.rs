use super::ApiTags;
use crate::domain::stats::ImportStats;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::problem::{ApiResult, RecordErrorDto};
use crate::ids::SourceId;
use crate::service::imports::{self, ImportInput, ImportMode, ImportOptions};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use serde_json::Value;

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

#[OpenApi(tag = "ApiTags::Imports")]
impl ImportsApi {
    /// Import records into a source
    ///
    /// One transaction: fully applied or not at all. Unchanged records (same hash) are not
    /// written; changed ones are snapshotted first. Invalid records are reported in `errors`
    /// (or, with `strict`, reject the batch with 422).
    #[oai(path = "/sources/:id/import", method = "post")]
    async fn import(
        &self,
        auth: TenantKey,
        id: Path<i64>,
        body: Json<ImportBody>,
        /// Compute the stats, write nothing.
        dry_run: Query<Option<bool>>,
    ) -> ApiResult<Json<ImportResult>> {
        let opts = ImportOptions {
            mode: match body.0.mode.unwrap_or_default() {
                ModeDto::Upsert => ImportMode::Upsert,
                ModeDto::Full => ImportMode::Full,
            },
            strict: body.0.strict.unwrap_or(false),
            force: body.0.force.unwrap_or(false),
            dry_run: dry_run.0.unwrap_or(false),
        };
        let out = imports::import(
            &self.0.db,
            auth.0.tenant,
            SourceId(id.0),
            ImportInput::Records(body.0.data),
            opts,
            &auth.0.actor,
            None,
        )
        .await?;
        Ok(Json(ImportResult {
            stats: out.stats.into(),
            errors: out.errors.into_iter().map(Into::into).collect(),
            run_id: out.run_id.map(|r| r.0),
            dry_run: out.dry_run,
        }))
    }
}
