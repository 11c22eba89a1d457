//! Warnings: the list (open or resolved, by kind, source, target, record id) with boxes to
//! tick for a bulk decision and a confirmation page saying what it touches, and one warning's
//! page: per field the value the last sync wrote (base), the source's and the website's, and
//! a choice per field labelled with the value it keeps.
use super::records::encode_path;
use super::view::{Layout, When, and_list};
use super::{Posted, UiError, UiResult, Viewed, done, refused, render};
use crate::domain::diff::{self, ConflictRow};
use crate::domain::warning::{WarningKind, WarningStatus};
use crate::entity::warnings as warning_entity;
use crate::http::AppState;
use crate::ids::{Owner, SourceId, TargetId, WarningId};
use crate::service::warnings::{self, Choice, Resolution, WarningFilter};
use crate::service::{properties, sources, targets};
use askama::Template;
use poem::handler;
use poem::web::{Data, Path, Query};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Warnings per page.
const PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    source: Option<i64>,
    target: Option<i64>,
    q: Option<String>,
    before: Option<i64>,
}

pub struct Row {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub external_id: String,
    /// The record's title (see `domain::title`), if it has one.
    pub title: String,
    pub record_link: Option<String>,
    pub message: String,
    pub fields: String,
    pub created: When,
    pub resolution: String,
}

fn row(w: &warning_entity::Model) -> Row {
    let fields: Vec<String> = warnings::fields(w).into_iter().map(|f| f.field).collect();
    Row {
        id: w.id,
        kind: w.kind.clone(),
        status: w.status.clone(),
        external_id: w.external_id.clone().unwrap_or_default(),
        title: String::new(),
        record_link: match (w.target_id, &w.external_id) {
            (Some(t), Some(e)) => Some(format!("/ui/targets/{t}/records/{}", encode_path(e))),
            _ => None,
        },
        message: w.message.clone(),
        fields: and_list(&fields),
        created: When::of(&w.created_at),
        resolution: w.resolution.clone().unwrap_or_default(),
    }
}

pub struct Choice2 {
    pub id: i64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "pages/warnings.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    total: u64,
    status: String,
    kind: String,
    source: i64,
    target: i64,
    q: String,
    kinds: [&'static str; 5],
    sources: Vec<Choice2>,
    targets: Vec<Choice2>,
    next: Option<String>,
}

/// `GET /ui/warnings`
#[handler]
pub async fn list(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Query(query): Query<ListQuery>,
) -> UiResult {
    let tenant = viewed.tenant()?;
    // `all`, or a status (open unless another is asked for).
    let status = match query.status.as_deref() {
        Some("all") => "all",
        Some(s) => s.parse().unwrap_or(WarningStatus::Open).as_str(),
        None => WarningStatus::Open.as_str(),
    };
    let q = query.q.unwrap_or_default().trim().to_string();
    let kind = query.kind.unwrap_or_default();
    let mut filter = WarningFilter {
        status: (status != "all").then(|| status.to_string()),
        source: query.source.filter(|s| *s > 0).map(SourceId),
        target: query.target.filter(|t| *t > 0).map(TargetId),
        kind: (!kind.is_empty()).then(|| kind.clone()),
        external_id_prefix: (!q.is_empty()).then(|| q.clone()),
        ..Default::default()
    };
    let total = warnings::count(&state.db, tenant, &filter).await?;
    filter.before = query.before.map(WarningId);
    filter.limit = PAGE;
    let found = warnings::list(&state.db, tenant, &filter).await?;
    let next = (found.len() as u64 == PAGE).then(|| {
        let last = found.last().map(|w| w.id).unwrap_or(0);
        let mut next = format!("status={status}&before={last}");
        if !kind.is_empty() {
            next.push_str(&format!("&kind={kind}"));
        }
        if let Some(s) = filter.source {
            next.push_str(&format!("&source={s}"));
        }
        if let Some(t) = filter.target {
            next.push_str(&format!("&target={t}"));
        }
        if !q.is_empty() {
            next.push_str(&format!(
                "&q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ));
        }
        next
    });
    let sources = sources::list(&state.db, tenant)
        .await?
        .into_iter()
        .map(|s| Choice2 {
            id: s.id,
            name: s.name,
        })
        .collect();
    let targets = targets::list(&state.db, tenant)
        .await?
        .into_iter()
        .map(|t| Choice2 {
            id: t.id,
            name: t.name,
        })
        .collect();
    let mut rows: Vec<Row> = found.iter().map(row).collect();
    name_records(state, &found, &mut rows).await?;
    render(&ListPage {
        layout: Layout::new(&viewed, "Warnings", "warnings"),
        rows,
        total,
        status: status.to_string(),
        kind,
        source: query.source.unwrap_or(0),
        target: query.target.unwrap_or(0),
        q,
        kinds: WarningKind::KINDS.map(WarningKind::as_str),
        sources,
        targets,
        next,
    })
}

/// Fills in the titles of the records the warnings are about (one read per target).
async fn name_records(
    state: &AppState,
    found: &[warning_entity::Model],
    rows: &mut [Row],
) -> Result<(), UiError> {
    let mut by_target: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for w in found {
        if let (Some(t), Some(e)) = (w.target_id, &w.external_id) {
            by_target.entry(t).or_default().push(e.clone());
        }
    }
    for (target, ids) in by_target {
        let titles = properties::titles(&state.db, Owner::Target(TargetId(target)), &ids).await?;
        for (w, r) in found.iter().zip(rows.iter_mut()) {
            if w.target_id == Some(target)
                && let Some(t) = w.external_id.as_ref().and_then(|e| titles.get(e))
            {
                r.title = t.clone();
            }
        }
    }
    Ok(())
}

fn resolution_of(text: &str) -> Result<Resolution, UiError> {
    text.parse().map_err(UiError::BadForm)
}

#[derive(Template)]
#[template(path = "pages/bulk_confirm.html")]
struct BulkPage {
    layout: Layout,
    ids: Vec<i64>,
    action: String,
    /// What the choice keeps, in words.
    keeps: &'static str,
    records: usize,
    fields: usize,
    skipped: usize,
}

/// `POST /ui/warnings/bulk` (`ids`, `action`): what resolving them would touch.
#[handler]
pub async fn bulk_confirm(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let action = form.get("action").unwrap_or("").to_string();
    let back = "/ui/warnings";
    let keeps = match resolution_of(&action) {
        Ok(Resolution::KeepTarget) => "keep the website's values",
        Ok(Resolution::TakeSource) => "take the source's values",
        Err(e) => return Ok(refused(&viewed, back, "bulk", &e)),
    };
    let ids: Vec<i64> = form.all("ids").filter_map(|i| i.parse().ok()).collect();
    if ids.is_empty() {
        let err = UiError::BadForm("tick the warnings to resolve first".into());
        return Ok(refused(&viewed, back, "bulk", &err));
    }
    let (mut records, mut fields, mut skipped) = (std::collections::BTreeSet::new(), 0, 0);
    let mut open = Vec::new();
    for id in &ids {
        let w = warnings::get(&state.db, tenant, WarningId(*id)).await?;
        if w.status != WarningStatus::Open.as_str() {
            skipped += 1;
            continue;
        }
        if let Some(p) = w.target_property_id {
            records.insert(p);
        }
        fields += warnings::fields(&w).len();
        open.push(*id);
    }
    render(&BulkPage {
        layout: Layout::new(&viewed, "Resolve warnings?", "warnings"),
        ids: open,
        action,
        keeps,
        records: records.len(),
        fields,
        skipped,
    })
}

/// `POST /ui/warnings/bulk/resolve` (`ids`, `action`)
#[handler]
pub async fn bulk_resolve(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let back = "/ui/warnings";
    let resolution = match resolution_of(form.get("action").unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return Ok(refused(&viewed, back, "bulk", &e)),
    };
    let (mut resolved, mut failed) = (0, Vec::new());
    for id in form.all("ids").filter_map(|i| i.parse().ok()) {
        let out = warnings::resolve(
            &state.db,
            tenant,
            WarningId(id),
            resolution,
            &viewed.viewer().actor(),
        )
        .await;
        match out {
            Ok(_) => resolved += 1,
            Err(e) => failed.push(format!("warning {id}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(done(
            &viewed,
            "/ui/warnings?status=open",
            format!(
                "{} resolved ({}).",
                super::view::plural(resolved as u64, "warning", "warnings"),
                resolution.as_str()
            ),
        ))
    } else {
        let err = UiError::BadForm(format!(
            "{resolved} resolved; these were not: {}",
            failed.join("; ")
        ));
        Ok(refused(&viewed, back, "bulk", &err))
    }
}

#[derive(Template)]
#[template(path = "pages/warning.html")]
struct WarningPage {
    layout: Layout,
    w: Row,
    open: bool,
    rows: Vec<ConflictRow>,
    source_name: String,
    target_name: String,
    /// When the per-field choice makes sense (a warning about fields).
    per_field: bool,
}

/// `GET /ui/warnings/:id`
#[handler]
pub async fn page(viewed: Viewed, Data(state): Data<&AppState>, Path(id): Path<i64>) -> UiResult {
    let tenant = viewed.tenant()?;
    let w = warnings::get(&state.db, tenant, WarningId(id)).await?;
    let fields = warnings::fields(&w);
    let source_name = match w.source_id {
        Some(s) => sources::get(&state.db, tenant, SourceId(s))
            .await
            .map(|s| s.name)
            .unwrap_or_else(|_| format!("source {s} (deleted)")),
        None => String::new(),
    };
    let target_name = match w.target_id {
        Some(t) => targets::get(&state.db, tenant, TargetId(t))
            .await
            .map(|t| t.name)
            .unwrap_or_else(|_| format!("target {t} (deleted)")),
        None => String::new(),
    };
    render(&WarningPage {
        layout: Layout::new(&viewed, format!("Warning {id}"), "warnings"),
        open: w.status == WarningStatus::Open.as_str(),
        per_field: !fields.is_empty(),
        rows: diff::conflict_rows(&fields),
        w: row(&w),
        source_name,
        target_name,
    })
}

/// `POST /ui/warnings/:id/resolve`: `whole` = keep_target | take_source, or `f:FIELD` =
/// keep_target | take_source for every field.
#[handler]
pub async fn resolve(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let back = format!("/ui/warnings/{id}");
    let choice = match form.get("whole") {
        Some(whole) => resolution_of(whole).map(Choice::All),
        None => {
            let mut fields = BTreeMap::new();
            let mut bad = None;
            for (k, v) in &form.fields {
                if let Some(field) = k.strip_prefix("f:") {
                    match resolution_of(v) {
                        Ok(r) => {
                            fields.insert(field.to_string(), r);
                        }
                        Err(e) => bad = Some(e),
                    }
                }
            }
            match bad {
                Some(e) => Err(e),
                None => Ok(Choice::Fields(fields)),
            }
        }
    };
    let choice = match choice {
        Ok(c) => c,
        Err(e) => return Ok(refused(&viewed, &back, "resolve", &e)),
    };
    match warnings::resolve_with(
        &state.db,
        tenant,
        WarningId(id),
        &choice,
        &viewed.viewer().actor(),
    )
    .await
    {
        Ok(out) => Ok(done(
            &viewed,
            "/ui/warnings?status=open",
            format!(
                "warning {id} resolved (run {}){}.",
                out.run_id,
                if out.changed {
                    "; the record on the target changed"
                } else {
                    "; the record stays as it was"
                }
            ),
        )),
        Err(e) => Ok(refused(&viewed, &back, "resolve", &e.into())),
    }
}
