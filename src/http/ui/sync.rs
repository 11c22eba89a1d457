//! The sync form of a source/target pair: the plan first (a dry run: what would be created,
//! updated, merged, kept with a warning, deleted, record by record), then the sync on confirm.
use super::view::{Layout, and_list, num, plural};
use super::{Posted, UiError, UiResult, Viewed, done_then, refused, render};
use crate::domain::stats::{PlannedAction, SyncStats};
use crate::domain::warning::WarningKind;
use crate::http::AppState;
use crate::ids::{Owner, SourceId, TargetId};
use crate::service::sync::{self, SyncOptions, SyncWarning};
use crate::service::{properties, sources, targets};
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
    plan: Vec<PlanRow>,
    more: usize,
    warnings: Vec<SyncWarning>,
}

/// One line of the plan, with the record's title.
pub struct PlanRow {
    pub external_id: String,
    pub title: String,
    pub action: &'static str,
    pub words: &'static str,
    /// "fields price and title" edited on both sides (or overwritten).
    pub fields: String,
}

impl PlanRow {
    fn of(p: PlannedAction, titles: &std::collections::HashMap<String, String>) -> Self {
        PlanRow {
            title: titles.get(&p.external_id).cloned().unwrap_or_default(),
            action: p.action.as_str(),
            words: p.action.words(),
            fields: and_list(&p.fields),
            external_id: p.external_id,
        }
    }
}

/// What the flash after a sync links to when it raised warnings: "2 conflicts need a decision".
fn warnings_link(target: TargetId, warnings: &[SyncWarning]) -> Option<(String, String)> {
    let n = warnings.len() as u64;
    if n == 0 {
        return None;
    }
    let all_conflicts = warnings
        .iter()
        .all(|w| w.kind == WarningKind::Conflict.as_str());
    let what = if all_conflicts {
        plural(n, "conflict needs", "conflicts need")
    } else {
        plural(n, "warning needs", "warnings need")
    };
    Some((
        format!("/ui/warnings?status=open&target={}", target.0),
        format!("{what} a decision"),
    ))
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
    let ids: Vec<String> = plan.iter().map(|p| p.external_id.clone()).collect();
    // Titles as the source has them, else (a record the source no longer has) the target.
    let mut titles = properties::titles(&state.db, Owner::Target(target), &ids).await?;
    titles.extend(properties::titles(&state.db, Owner::Source(source), &ids).await?);
    let plan = plan.into_iter().map(|p| PlanRow::of(p, &titles)).collect();
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
            Ok(done_then(
                &viewed,
                &format!("/ui/runs/{run}"),
                format!(
                    "synced: {} created, {} updated, {} unchanged, {} deleted, {}.",
                    num(s.created),
                    num(s.updated),
                    num(s.unchanged),
                    num(s.deleted),
                    plural(s.warnings, "new warning", "new warnings")
                ),
                warnings_link(target, &out.warnings),
            ))
        }
        Err(e) => Ok(refused(&viewed, &back, "sync", &e.into())),
    }
}
