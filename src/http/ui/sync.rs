//! The sync form of a source/target pair: the plan first (a dry run: what would be created,
//! updated, merged, kept with a warning, deleted, record by record), then the sync on confirm.
use super::view::Layout;
use super::{Posted, UiError, UiResult, Viewed, done, refused, render};
use crate::domain::stats::{PlannedAction, SyncStats};
use crate::http::AppState;
use crate::ids::{SourceId, TargetId};
use crate::service::sync::{self, SyncOptions, SyncWarning};
use crate::service::{sources, targets};
use askama::Template;
use poem::handler;
use poem::web::Data;

/// Planned actions shown at most (the counts cover all).
const SHOWN: usize = 500;

#[derive(Template)]
#[template(path = "pages/sync_preview.html")]
struct PlanPage {
    layout: Layout,
    source_id: i64,
    source_name: String,
    target_id: i64,
    target_name: String,
    stats: SyncStats,
    plan: Vec<PlannedAction>,
    more: usize,
    warnings: Vec<SyncWarning>,
}

fn pair(form: &Posted) -> Result<(SourceId, TargetId), UiError> {
    let id = |name: &str| -> Result<i64, UiError> {
        form.need(name)?
            .parse()
            .map_err(|_| UiError::BadForm(format!("choose a {name}")))
    };
    Ok((SourceId(id("source")?), TargetId(id("target")?)))
}

/// `POST /ui/sync/preview` (`source`, `target`): the plan.
#[handler]
pub async fn preview(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let (source, target) = pair(&form)?;
    let back = format!("/ui/targets/{}", target.0);
    let source_name = sources::get(&state.db, tenant, source).await?.name;
    let target_name = targets::get(&state.db, tenant, target).await?.name;
    let opts = SyncOptions { dry_run: true };
    let out = match sync::sync(
        &state.db,
        tenant,
        source,
        target,
        opts,
        &viewed.viewer().actor(),
    )
    .await
    {
        Ok(out) => out,
        Err(e) => return Ok(refused(&viewed, &back, "sync", &e.into())),
    };
    let mut plan = out.plan;
    let more = plan.len().saturating_sub(SHOWN);
    plan.truncate(SHOWN);
    render(&PlanPage {
        layout: Layout::new(
            &viewed,
            format!("Sync {source_name} to {target_name}: plan"),
            "targets",
        ),
        source_id: source.0,
        source_name,
        target_id: target.0,
        target_name,
        stats: out.stats,
        plan,
        more,
        warnings: out.warnings,
    })
}

/// `POST /ui/sync` (`source`, `target`): the sync.
#[handler]
pub async fn confirm(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let (source, target) = pair(&form)?;
    let back = format!("/ui/targets/{}", target.0);
    match sync::sync(
        &state.db,
        tenant,
        source,
        target,
        SyncOptions::default(),
        &viewed.viewer().actor(),
    )
    .await
    {
        Ok(out) => {
            let s = out.stats;
            let run = out.run_id.map(|r| r.0).unwrap_or(0);
            Ok(done(
                &viewed,
                &format!("/ui/runs/{run}"),
                format!(
                    "synced: {} created, {} updated, {} unchanged, {} deleted, {} new \
                     warning(s).",
                    s.created, s.updated, s.unchanged, s.deleted, s.warnings
                ),
            ))
        }
        Err(e) => Ok(refused(&viewed, &back, "sync", &e.into())),
    }
}
