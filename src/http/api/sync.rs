use super::ApiTags;
use crate::domain::merge::FieldConflict;
use crate::domain::stats::SyncStats;
use crate::http::AppState;
use crate::http::auth::TenantKey;
use crate::http::problem::ApiResult;
use crate::ids::{SourceId, TargetId};
use crate::service::sync::{self, SyncOptions, SyncWarning};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;

pub struct SyncApi(pub AppState);

/// Counts of a sync.
#[derive(Debug, Object)]
pub struct SyncStatsDto {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub warnings: u64,
}

impl From<SyncStats> for SyncStatsDto {
    fn from(s: SyncStats) -> Self {
        SyncStatsDto {
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
            deleted: s.deleted,
            warnings: s.warnings,
        }
    }
}

/// One top-level field with its value at the last sync (base), in the source and on the
/// target; null means absent.
#[derive(Debug, Clone, Object)]
pub struct FieldDto {
    pub field: String,
    pub base: Option<Value>,
    pub source: Option<Value>,
    pub target: Option<Value>,
}

impl From<FieldConflict> for FieldDto {
    fn from(f: FieldConflict) -> Self {
        FieldDto {
            field: f.field,
            base: f.base,
            source: f.source,
            target: f.target,
        }
    }
}

/// A warning raised by a sync.
#[derive(Debug, Object)]
pub struct SyncWarningDto {
    /// Id of the stored warning (null in a dry run).
    pub id: Option<i64>,
    /// conflict, kept_target, overwritten or deleted_manual.
    pub kind: String,
    pub external_id: String,
    pub message: String,
    pub fields: Vec<FieldDto>,
}

impl From<SyncWarning> for SyncWarningDto {
    fn from(w: SyncWarning) -> Self {
        SyncWarningDto {
            id: w.id,
            kind: w.kind,
            external_id: w.external_id,
            message: w.message,
            fields: w.fields.into_iter().map(Into::into).collect(),
        }
    }
}

/// One planned (or taken) action.
#[derive(Debug, Object)]
pub struct PlannedActionDto {
    pub external_id: String,
    /// create, update, restore, merge, keep_target, overwrite or delete.
    pub action: String,
    /// Fields in conflict or overwritten.
    pub fields: Vec<String>,
}

/// What a sync did (or, in a dry run, would do).
#[derive(Debug, Object)]
pub struct SyncResult {
    pub stats: SyncStatsDto,
    pub warnings: Vec<SyncWarningDto>,
    /// Every record that changes; unchanged records are not listed.
    pub plan: Vec<PlannedActionDto>,
    /// The run recorded; null for a dry run.
    pub run_id: Option<i64>,
    pub dry_run: bool,
}

#[OpenApi(tag = "ApiTags::Sync")]
impl SyncApi {
    /// Sync a source into a target
    ///
    /// One transaction, serialised per source/target pair. Records edited by hand on the target
    /// are never overwritten silently: they are merged per field, kept, or overwritten with a
    /// warning, per the target's `conflict_policy`.
    #[oai(path = "/sync/:source_id/:target_id", method = "post")]
    async fn sync(
        &self,
        auth: TenantKey,
        /// Makes a retry safe: the same key and request within 24 hours get the first
        /// response again (`Idempotent-Replayed: true`) instead of a second effect.
        #[oai(name = "Idempotency-Key")]
        _idempotency_key: Header<Option<String>>,
        source_id: Path<i64>,
        target_id: Path<i64>,
        /// Return the plan, write nothing.
        dry_run: Query<Option<bool>>,
    ) -> ApiResult<Json<SyncResult>> {
        let opts = SyncOptions {
            dry_run: dry_run.0.unwrap_or(false),
        };
        let out = sync::sync(
            &self.0.db,
            auth.0.tenant,
            SourceId(source_id.0),
            TargetId(target_id.0),
            opts,
            &auth.0.actor,
        )
        .await?;
        Ok(Json(SyncResult {
            stats: out.stats.into(),
            warnings: out.warnings.into_iter().map(Into::into).collect(),
            plan: out
                .plan
                .into_iter()
                .map(|p| PlannedActionDto {
                    external_id: p.external_id,
                    action: p.action.as_str().to_string(),
                    fields: p.fields,
                })
                .collect(),
            run_id: out.run_id.map(|r| r.0),
            dry_run: out.dry_run,
        }))
    }
}
