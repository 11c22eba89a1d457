//! Records: a source's or target's list (paged in the database, searched by external id, a
//! target's hand-edited ones marked and filterable), and one record's page: its data, its
//! versions with who or which run made each and what changed, and restoring one.
use super::view::{Layout, When};
use super::{Posted, UiError, UiResult, Viewed, done, refused, render};
use crate::domain::diff::{self, FieldChange};
use crate::http::AppState;
use crate::ids::Side;
use crate::ids::{Owner, SnapshotId, SourceId, TargetId};
use crate::service::properties::{self, ListedProperty, PropertyFilter};
use crate::service::snapshots;
use crate::service::{runs, sources, targets};
use askama::Template;
use poem::handler;
use poem::web::{Data, Path, Query};
use serde::Deserialize;
use std::collections::HashMap;

/// Records per page.
const PAGE: u64 = 50;
/// Versions shown on a record's page.
const VERSIONS: u64 = 100;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// The start of the external ids to show.
    q: Option<String>,
    /// `1`: only hand-edited records (targets).
    manual: Option<String>,
    /// The last external id of the page before.
    after: Option<String>,
}

pub struct RecordRow {
    /// The external id as a path segment.
    pub path: String,
    pub external_id: String,
    /// The record's `title` (or `name`), if it has one.
    pub label: String,
    pub updated: When,
    pub manual: bool,
    pub deleted: bool,
}

#[derive(Template)]
#[template(path = "pages/records.html")]
struct ListPage {
    layout: Layout,
    side: Side,
    id: i64,
    name: String,
    rows: Vec<RecordRow>,
    total: u64,
    q: String,
    manual: bool,
    /// The query of the next page, if there is one.
    next: Option<String>,
}

fn label_of(data: &str) -> String {
    let map = crate::service::parse_object(data);
    ["title", "name", "address"]
        .iter()
        .find_map(|k| map.get(*k).map(|v| diff::show(Some(v))))
        .unwrap_or_default()
}

fn encode(value: &str) -> String {
    crate::http::paging::encode(value)
}

async fn list(viewed: Viewed, state: &AppState, side: Side, id: i64, query: ListQuery) -> UiResult {
    let tenant = viewed.tenant()?;
    let (owner, name) = match side {
        Side::Source => (
            Owner::Source(SourceId(id)),
            sources::get(&state.db, tenant, SourceId(id)).await?.name,
        ),
        Side::Target => (
            Owner::Target(TargetId(id)),
            targets::get(&state.db, tenant, TargetId(id)).await?.name,
        ),
    };
    let q = query.q.unwrap_or_default().trim().to_string();
    let manual = side == Side::Target && query.manual.as_deref() == Some("1");
    let filter = PropertyFilter {
        prefix: (!q.is_empty()).then(|| q.clone()),
        has_manual_changes: manual.then_some(true),
        after: query
            .after
            .filter(|a| crate::domain::identity::storable_id(a)),
        limit: PAGE,
        ..Default::default()
    };
    if filter.prefix.as_deref().is_some_and(|p| p.contains('\0')) {
        return Err(UiError::BadForm(
            "the search cannot hold a NUL character".into(),
        ));
    }
    let (items, total) = match owner {
        Owner::Target(target) if manual => {
            properties::manual_page(
                &state.db,
                target,
                filter.prefix.as_deref(),
                filter.after.as_deref(),
                PAGE,
            )
            .await?
        }
        _ => properties::page(&state.db, tenant, owner, &filter).await?,
    };
    let next = (items.len() as u64 == PAGE).then(|| {
        let last = items.last().map(|p| p.external_id.as_str()).unwrap_or("");
        let mut next = format!("after={}", encode(last));
        if !q.is_empty() {
            next.push_str(&format!("&q={}", encode(&q)));
        }
        if manual {
            next.push_str("&manual=1");
        }
        next
    });
    let rows = items
        .iter()
        .map(|p: &ListedProperty| RecordRow {
            path: encode_path(&p.external_id),
            external_id: p.external_id.clone(),
            label: label_of(&p.data),
            updated: When::of(&p.updated_at),
            manual: side == Side::Target && p.has_manual_changes(),
            deleted: p.deleted_at.is_some(),
        })
        .collect();
    render(&ListPage {
        layout: Layout::new(&viewed, format!("Records of {name}"), side.many()),
        side,
        id,
        name,
        rows,
        total,
        q,
        manual,
        next,
    })
}

/// `GET /ui/sources/:id/records`
#[handler]
pub async fn source_records(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ListQuery>,
) -> UiResult {
    list(viewed, state, Side::Source, id, query).await
}

/// `GET /ui/targets/:id/records`
#[handler]
pub async fn target_records(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ListQuery>,
) -> UiResult {
    list(viewed, state, Side::Target, id, query).await
}

/// One change in a record's history: what a run (or a person) did to it.
pub struct Event {
    /// The version before the change, restorable.
    pub snapshot_id: i64,
    pub at: When,
    pub reason: String,
    /// "run 12 (sync, cli)", or "" when the run was cleaned up.
    pub by: String,
    pub run_id: Option<i64>,
    pub changes: Vec<FieldChange>,
    /// The change deleted or brought back the record.
    pub note: String,
}

#[derive(Template)]
#[template(path = "pages/record.html")]
struct RecordPage {
    layout: Layout,
    side: Side,
    owner_id: i64,
    owner_name: String,
    external_id: String,
    fields: Vec<(String, String)>,
    deleted: bool,
    manual: bool,
    /// A target's fields edited by hand since the last sync (against what it wrote).
    edited: Vec<FieldChange>,
    events: Vec<Event>,
}

async fn record(
    viewed: Viewed,
    state: &AppState,
    side: Side,
    owner_id: i64,
    external_id: String,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let (owner_name, property_id, data, deleted, manual, base) = match side {
        Side::Source => {
            let name = sources::get(&state.db, tenant, SourceId(owner_id))
                .await?
                .name;
            let p =
                properties::get_source(&state.db, tenant, SourceId(owner_id), &external_id).await?;
            (name, p.id, p.data, p.deleted_at.is_some(), false, None)
        }
        Side::Target => {
            let name = targets::get(&state.db, tenant, TargetId(owner_id))
                .await?
                .name;
            let p =
                properties::get_target(&state.db, tenant, TargetId(owner_id), &external_id).await?;
            let manual = properties::has_manual_changes(&p);
            let base = manual.then(|| p.base_data.clone()).flatten();
            (name, p.id, p.data, p.deleted_at.is_some(), manual, base)
        }
    };
    let history = snapshots::history(&state.db, tenant, side, property_id, VERSIONS).await?;
    let key_names = crate::service::keys::names(&state.db, tenant).await?;
    let run_ids: Vec<i64> = history.iter().filter_map(|s| s.run_id).collect();
    let by_run: HashMap<i64, crate::entity::runs::Model> =
        runs::by_ids(&state.db, tenant, &run_ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    // Newest first: each snapshot is the version before the change its run made, the one
    // before it in the list (or the record as it is) the version after.
    let current = crate::service::parse_object(&data);
    let mut newer = (current.clone(), deleted);
    let mut events = Vec::new();
    for s in &history {
        let before = crate::service::parse_object(&s.data);
        let was_deleted = s.deleted_at.is_some();
        let note = match (was_deleted, newer.1) {
            (false, true) => "deleted the record",
            (true, false) => "brought the record back",
            _ => "",
        };
        let run = s.run_id.and_then(|r| by_run.get(&r));
        events.push(Event {
            snapshot_id: s.id,
            at: When::of(&s.created_at),
            reason: s.reason.clone(),
            by: run
                .map(|r| {
                    format!(
                        "run {} ({}, {})",
                        r.id,
                        r.kind,
                        super::view::actor_words(&r.actor, &key_names)
                    )
                })
                .unwrap_or_default(),
            run_id: run.map(|r| r.id),
            changes: diff::field_changes(&before, &newer.0),
            note: note.into(),
        });
        newer = (before, was_deleted);
    }
    let edited = base
        .map(|b| diff::field_changes(&crate::service::parse_object(&b), &current))
        .unwrap_or_default();
    render(&RecordPage {
        layout: Layout::new(
            &viewed,
            format!("{external_id} in {owner_name}"),
            side.many(),
        ),
        side,
        owner_id,
        owner_name,
        external_id,
        fields: diff::field_rows(&current),
        deleted,
        manual,
        edited,
        events,
    })
}

/// `GET /ui/sources/:id/records/*external_id`
#[handler]
pub async fn source_record(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path((id, external_id)): Path<(i64, String)>,
) -> UiResult {
    record(viewed, state, Side::Source, id, external_id).await
}

/// `GET /ui/targets/:id/records/*external_id`
#[handler]
pub async fn target_record(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path((id, external_id)): Path<(i64, String)>,
) -> UiResult {
    record(viewed, state, Side::Target, id, external_id).await
}

/// `POST /ui/snapshots/:id/restore` (`back`: the record page): that version becomes the
/// record again (the current one is kept as a version first).
#[handler]
pub async fn restore(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let snapshot = snapshots::get(&state.db, tenant, SnapshotId(id)).await?;
    let side = Side::from_stored(&snapshot.property_kind);
    let page = format!(
        "/ui/{}/{}/records/{}",
        side.many(),
        snapshot.owner_id,
        encode_path(&snapshot.external_id)
    );
    let _ = form;
    match snapshots::restore(&state.db, tenant, SnapshotId(id), &viewed.viewer().actor()).await {
        Ok(out) => Ok(done(
            &viewed,
            &page,
            format!(
                "the version of {} was restored (run {}); the one it replaced is kept in the \
                 history.",
                snapshot.created_at.format("%Y-%m-%d %H:%M UTC"),
                out.run_id
            ),
        )),
        Err(e) => Ok(refused(&viewed, &page, "history", &e.into())),
    }
}

/// An external id as a path segment.
pub fn encode_path(id: &str) -> String {
    crate::http::paging::encode(id)
}
