//! Warnings: what a human must look at, and resolving them.
use super::runs::{self, RunKind};
use super::snapshots::snapshot_ids;
use super::{Actor, now, parse_object};
use crate::domain::canonical::Canonical;
use crate::domain::merge::FieldConflict;
use crate::domain::warning::{WarningKind, WarningStatus, apply_choice, check_fields};
use crate::entity::{source_properties, target_properties, warnings};
use crate::error::{AppError, AppResult};
use crate::ids::Side;
use crate::ids::{Owner, RunId, SourceId, TargetId, TenantId, WarningId};
use crate::store::locks::{self, Mode};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::Value;

pub use crate::domain::warning::{Choice, Resolution};

/// Which warnings to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct WarningFilter {
    /// `open` or `resolved`; `None` lists both.
    pub status: Option<String>,
    pub source: Option<SourceId>,
    pub target: Option<TargetId>,
    /// conflict, kept_target, overwritten, deleted_manual or rejected.
    pub kind: Option<String>,
    /// Only warnings about records whose external id starts with this.
    pub external_id_prefix: Option<String>,
    /// Only warnings raised by this run.
    pub run: Option<crate::ids::RunId>,
    /// Cursor: warnings with a smaller id.
    pub before: Option<WarningId>,
    /// At most this many (0 = no limit).
    pub limit: u64,
}

fn query(tenant: TenantId, filter: &WarningFilter) -> AppResult<sea_orm::Select<warnings::Entity>> {
    let mut q = warnings::Entity::find().filter(warnings::Column::TenantId.eq(tenant.0));
    if let Some(status) = &filter.status {
        let status: WarningStatus = status.parse().map_err(|_| {
            AppError::invalid(
                "status",
                format!("unknown status {status:?}; expected open or resolved"),
            )
        })?;
        q = q.filter(warnings::Column::Status.eq(status.as_str()));
    }
    if let Some(run) = filter.run {
        q = q.filter(warnings::Column::RunId.eq(run.0));
    }
    if let Some(source) = filter.source {
        q = q.filter(warnings::Column::SourceId.eq(source.0));
    }
    if let Some(target) = filter.target {
        q = q.filter(warnings::Column::TargetId.eq(target.0));
    }
    if let Some(kind) = &filter.kind {
        q = q.filter(warnings::Column::Kind.eq(kind.as_str()));
    }
    if let Some(prefix) = &filter.external_id_prefix {
        q = q.filter(crate::store::listing::starts_with(
            warnings::Column::ExternalId,
            prefix,
        ));
    }
    Ok(q)
}

pub async fn list(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &WarningFilter,
) -> AppResult<Vec<warnings::Model>> {
    let mut q = query(tenant, filter)?;
    if let Some(before) = filter.before {
        q = q.filter(warnings::Column::Id.lt(before.0));
    }
    if filter.limit > 0 {
        q = q.limit(filter.limit);
    }
    Ok(q.order_by_desc(warnings::Column::Id).all(conn).await?)
}

pub async fn count(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &WarningFilter,
) -> AppResult<u64> {
    Ok(query(tenant, filter)?.count(conn).await?)
}

pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    id: WarningId,
) -> AppResult<warnings::Model> {
    warnings::Entity::find_by_id(id.0)
        .filter(warnings::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("warning", id))
}

/// The per-field base/source/target values recorded on a warning.
pub fn fields(warning: &warnings::Model) -> Vec<FieldConflict> {
    serde_json::from_str::<Value>(&warning.details)
        .ok()
        .and_then(|d| d.get("fields").cloned())
        .and_then(|f| serde_json::from_value(f).ok())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize)]
pub struct ResolveOutcome {
    pub run_id: RunId,
    /// Whether the target property was changed by the resolution.
    pub changed: bool,
}

/// Resolves an open warning. `keep_target` accepts the manual values (and brings back values
/// an overwrite replaced, or a record a deletion removed); `take_source` applies the source
/// values of the fields concerned. The property is snapshotted before any change; the
/// resolution is recorded as a run.
pub async fn resolve(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: WarningId,
    resolution: Resolution,
    actor: &Actor,
) -> AppResult<ResolveOutcome> {
    resolve_with(db, tenant, id, &Choice::All(resolution), actor).await
}

/// Resolves an open warning as `choice` says (see [`resolve`]).
pub async fn resolve_with(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: WarningId,
    choice: &Choice,
    actor: &Actor,
) -> AppResult<ResolveOutcome> {
    let tx = crate::db::begin_write(db).await?;
    // A single-record writer (see `locks`): the target's lock shared, then the warning's and
    // the record's rows, read again under their locks.
    if let Some(target) = get(&tx, tenant, id).await?.target_id {
        locks::lock(&tx, Owner::Target(TargetId(target)), Mode::Shared).await?;
    }
    let warning = warnings::Entity::find_by_id(id.0)
        .filter(warnings::Column::TenantId.eq(tenant.0))
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(|| AppError::not_found("warning", id))?;
    if warning.status != WarningStatus::Open.as_str() {
        return Err(AppError::Conflict(format!(
            "warning {id} is already resolved ({})",
            warning
                .resolution
                .as_deref()
                .unwrap_or(WarningStatus::Resolved.as_str())
        )));
    }
    if let Choice::Fields(chosen) = choice {
        check_fields(id, &fields(&warning), chosen).map_err(|e| AppError::invalid("fields", e))?;
    }
    let run = runs::start(
        &tx,
        tenant,
        RunKind::Resolve,
        warning.source_id.map(SourceId),
        warning.target_id.map(TargetId),
        actor,
    )
    .await?;
    let run_id = RunId(run.id);
    let property = match warning.target_property_id {
        Some(pid) => {
            target_properties::Entity::find_by_id(pid)
                .lock_exclusive()
                .one(&tx)
                .await?
        }
        None => None,
    };
    let mut changed = false;
    if let Some(prop) = property {
        let mut active: target_properties::ActiveModel = prop.clone().into();
        if warning.kind == WarningKind::DeletedManual.as_str() {
            if *choice == Choice::All(Resolution::KeepTarget) && prop.deleted_at.is_some() {
                // Bring the record back and detach it, so later syncs leave it alone.
                active.deleted_at = Set(None);
                active.source_property_id = Set(None);
                changed = true;
            }
        } else {
            let mut map = parse_object(&prop.data);
            apply_choice(&mut map, fields(&warning), choice);
            let canonical = Canonical::of(&Value::Object(map));
            // Accepting against the source version the warning was about makes it the new
            // base; if the source moved on since, the next sync merges as usual.
            let source = match prop.source_property_id {
                Some(sid) => source_properties::Entity::find_by_id(sid).one(&tx).await?,
                None => None,
            };
            let current_source = source.filter(|s| Some(&s.hash) == warning.source_hash.as_ref());
            let (synced, base) = match current_source {
                Some(s) => {
                    let base = (canonical.hash != s.hash).then(|| s.data.clone());
                    (Some(s.hash), base)
                }
                None => (
                    prop.synced_hash.clone(),
                    super::properties::base_after_manual_change(&prop, &canonical.hash),
                ),
            };
            changed = canonical.hash != prop.hash;
            active.data = Set(canonical.text);
            active.hash = Set(canonical.hash);
            active.synced_hash = Set(synced);
            active.base_data = Set(base);
        }
        snapshot_ids(&tx, Side::Target, &[prop.id], run_id, "resolve").await?;
        active.run_id = Set(Some(run.id));
        active.updated_at = Set(now());
        active.update(&tx).await?;
    }
    let mut active: warnings::ActiveModel = warning.into();
    active.status = Set(WarningStatus::Resolved.to_string());
    active.resolution = Set(Some(choice.label()));
    active.resolved_run_id = Set(Some(run.id));
    active.resolved_at = Set(Some(now()));
    active.update(&tx).await?;
    super::commit::run(
        tx,
        run,
        &serde_json::json!({"resolved": 1, "changed": u64::from(changed), "warning_id": id.0}),
        None,
    )
    .await?;
    Ok(ResolveOutcome { run_id, changed })
}

/// Raises the warning of an import's rejected records (if it rejected any): the first 20 of
/// them in its details.
pub(super) async fn raise_rejected(
    tx: &impl ConnectionTrait,
    tenant: TenantId,
    run: RunId,
    source: SourceId,
    planner: &crate::domain::import_plan::Planner,
) -> AppResult<()> {
    use crate::domain::stats::RecordError;
    use crate::domain::warning::{NewWarning, rejected_message};
    let rejected: Vec<&RecordError> = planner.rejected().collect();
    if rejected.is_empty() {
        return Ok(());
    }
    let shown: Vec<&&RecordError> = rejected.iter().take(20).collect();
    let new = NewWarning {
        kind: WarningKind::Rejected,
        run_id: run.0,
        source_id: Some(source.0),
        target_id: None,
        target_property_id: None,
        external_id: None,
        source_hash: None,
        message: rejected_message(
            rejected.len(),
            source,
            rejected[0].index,
            &rejected[0].reason,
        ),
        details: serde_json::json!({"errors": shown, "total": rejected.len()}).to_string(),
    };
    crate::store::warning_rows::insert(tx, tenant, new, now()).await?;
    Ok(())
}
