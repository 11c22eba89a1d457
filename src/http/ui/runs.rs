//! Runs: the audit log, one run's page (the records it touched, with the fields it changed),
//! and rolling a run back after a confirmation page that says what would be skipped.
use super::records::encode_path;
use super::view::{self, Layout, RunRow};
use super::{Posted, UiResult, Viewed, done, refused, render};
use crate::domain::diff::{self, FieldChange};
use crate::domain::run::RunKind;
use crate::domain::title::title_of;
use crate::http::AppState;
use crate::ids::RunId;
use crate::service::{dashboard, keys, runs, snapshots, warnings};
use askama::Template;
use poem::handler;
use poem::web::{Data, Path, Query};
use serde::Deserialize;

const PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    before: Option<i64>,
    after: Option<i64>,
}

#[derive(Template)]
#[template(path = "pages/runs.html")]
struct ListPage {
    layout: Layout,
    runs: Vec<RunRow>,
    total: u64,
    next: Option<i64>,
}

/// `GET /ui/runs`
#[handler]
pub async fn list(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Query(query): Query<ListQuery>,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let total = runs::count(&state.db, tenant).await?;
    let found = runs::list(&state.db, tenant, PAGE, query.before.map(RunId)).await?;
    let next = (found.len() as u64 == PAGE)
        .then(|| found.last().map(|r| r.id))
        .flatten();
    let names = keys::names(&state.db, tenant).await?;
    render(&ListPage {
        layout: Layout::new(&viewed, "Runs", "runs"),
        runs: found.iter().map(|r| RunRow::named(r, &names)).collect(),
        total,
        next,
    })
}

pub struct TouchedRow {
    pub link: String,
    pub external_id: String,
    pub title: String,
    pub side: String,
    /// The badge's class: created, updated, deleted, restored, or unchanged when a run wrote
    /// a version of the record and no field changed.
    pub action: &'static str,
    /// What happened, in words.
    pub words: String,
    pub changes: Vec<FieldChange>,
}

#[derive(Template)]
#[template(path = "pages/run.html")]
struct RunPage {
    layout: Layout,
    run: RunRow,
    source_id: Option<i64>,
    target_id: Option<i64>,
    can_roll_back: bool,
    touched: Vec<TouchedRow>,
    total: u64,
    next: Option<i64>,
    /// Rejected / superseded records of an import, and skipped ones of a rollback.
    notes: Vec<String>,
}

/// `GET /ui/runs/:id`
#[handler]
pub async fn page(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ListQuery>,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let run = runs::get(&state.db, tenant, RunId(id)).await?;
    let (touched, total, next) =
        dashboard::touched(&state.db, tenant, RunId(id), PAGE, query.after).await?;
    // The warnings it raised, by record: a record it wrote nothing to may have one.
    let raised = warnings::list(
        &state.db,
        tenant,
        &warnings::WarningFilter {
            run: Some(RunId(id)),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    let rows = touched
        .into_iter()
        .map(|t| {
            let before = t
                .before
                .as_deref()
                .map(crate::service::parse_object)
                .unwrap_or_default();
            let after = t
                .after
                .as_deref()
                .map(crate::service::parse_object)
                .unwrap_or_default();
            let many = if t.property_kind == "target" {
                "targets"
            } else {
                "sources"
            };
            let changes = diff::field_changes(&before, &after);
            let title = title_of(&after).or_else(|| title_of(&before));
            let (action, words) = if t.action == "updated" && changes.is_empty() {
                let warning = raised
                    .iter()
                    .find(|w| w.external_id.as_deref() == Some(t.external_id.as_str()));
                let why = match warning {
                    Some(w) => format!(
                        "nothing written: warning #{} ({})",
                        w.id,
                        view::kind_words(&w.kind)
                    ),
                    None => "nothing written: no field changed".to_string(),
                };
                ("unchanged", why)
            } else {
                (t.action, view::action_words(t.action).to_string())
            };
            TouchedRow {
                link: format!(
                    "/ui/{many}/{}/records/{}",
                    t.owner_id,
                    encode_path(&t.external_id)
                ),
                external_id: t.external_id,
                title: title.unwrap_or_default(),
                side: t.property_kind,
                action,
                words,
                changes,
            }
        })
        .collect();
    let detail: serde_json::Value = run
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    let mut notes = Vec::new();
    for e in detail["errors"].as_array().into_iter().flatten().take(100) {
        notes.push(format!(
            "record {}{}: {}",
            e["index"],
            e["external_id"]
                .as_str()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            e["reason"].as_str().unwrap_or("")
        ));
    }
    for s in detail["skipped"].as_array().into_iter().flatten().take(100) {
        notes.push(format!(
            "{} {} left alone: {}",
            s["property_kind"].as_str().unwrap_or(""),
            s["external_id"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        ));
    }
    let can_roll_back = crate::domain::run::can_roll_back(RunKind::of(&run.kind), &run.status);
    render(&RunPage {
        layout: Layout::new(&viewed, format!("Run {id}"), "runs"),
        source_id: run.source_id,
        target_id: run.target_id,
        run: RunRow::named(&run, &keys::names(&state.db, tenant).await?),
        can_roll_back,
        touched: rows,
        total,
        next,
        notes,
    })
}

#[derive(Template)]
#[template(path = "pages/rollback_confirm.html")]
struct RollbackPage {
    layout: Layout,
    run: RunRow,
    restored: u64,
    removed: u64,
    skipped: Vec<String>,
}

/// `GET /ui/runs/:id/rollback`: what rolling back would do (worked out, then undone).
#[handler]
pub async fn rollback_confirm(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let run = runs::get(&state.db, tenant, RunId(id)).await?;
    let back = format!("/ui/runs/{id}");
    let preview =
        match snapshots::rollback_preview(&state.db, tenant, RunId(id), &viewed.viewer().actor())
            .await
        {
            Ok(p) => p,
            Err(e) => return Ok(refused(&viewed, &back, "rollback", &e.into())),
        };
    render(&RollbackPage {
        layout: Layout::new(&viewed, format!("Roll back run {id}?"), "runs"),
        run: RunRow::of(&run),
        restored: preview.restored,
        removed: preview.removed,
        skipped: preview
            .skipped
            .iter()
            .map(|s| {
                format!(
                    "{} {}: {}",
                    s.property_kind.as_str(),
                    s.external_id,
                    s.reason
                )
            })
            .collect(),
    })
}

/// `POST /ui/runs/:id/rollback`
#[handler]
pub async fn rollback(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    _form: Posted,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let back = format!("/ui/runs/{id}");
    match snapshots::rollback_run(&state.db, tenant, RunId(id), &viewed.viewer().actor()).await {
        Ok(out) => Ok(done(
            &viewed,
            &format!("/ui/runs/{}", out.run_id),
            format!(
                "run {id} was rolled back: {} restored, {} removed, {} left alone.",
                view::plural(out.restored, "record", "records"),
                view::num(out.removed),
                view::num(out.skipped.len())
            ),
        )),
        Err(e) => Ok(refused(&viewed, &back, "rollback", &e.into())),
    }
}
