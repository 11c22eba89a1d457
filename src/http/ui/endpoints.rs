//! Sources and targets: the list with a form to add one, one's page (settings with their
//! policies explained, its import or sync form, its records), and deleting with a
//! confirmation page.
use super::settings_form::{Settings, config_of, settings_of, types, what_it_does};
use super::view::{Layout, When};
use super::{Posted, UiError, UiResult, Viewed, done, refused, render};
use crate::http::AppState;
use crate::ids::{Owner, Side, SourceId, TargetId, TenantId};
use crate::service::endpoints::{EndpointUpdate, NewEndpoint};
use crate::service::{properties, sources, targets};
use askama::Template;
use poem::handler;
use poem::web::{Data, Path, Query};

pub struct Row {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub records: u64,
    pub created: When,
}

#[derive(Template)]
#[template(path = "pages/endpoints.html")]
struct ListPage {
    layout: Layout,
    side: Side,
    rows: Vec<Row>,
    types: Vec<(&'static str, &'static str)>,
}

async fn list_page(viewed: Viewed, state: &AppState, side: Side) -> UiResult {
    let tenant = viewed.tenant()?;
    let mut rows = Vec::new();
    let all: Vec<(i64, String, String, chrono::DateTime<chrono::Utc>)> = match side {
        Side::Source => sources::list(&state.db, tenant)
            .await?
            .into_iter()
            .map(|m| (m.id, m.name, m.kind, m.created_at))
            .collect(),
        Side::Target => targets::list(&state.db, tenant)
            .await?
            .into_iter()
            .map(|m| (m.id, m.name, m.kind, m.created_at))
            .collect(),
    };
    for (id, name, kind, created) in all {
        let owner = owner(side, id);
        let records = properties::list_state(&state.db, tenant, owner).await?.live;
        rows.push(Row {
            id,
            name,
            kind,
            records,
            created: When::of(&created),
        });
    }
    let title = match side {
        Side::Source => "Sources",
        Side::Target => "Targets",
    };
    render(&ListPage {
        layout: Layout::new(&viewed, title, side.many()),
        side,
        rows,
        types: types(side),
    })
}

fn owner(side: Side, id: i64) -> Owner {
    match side {
        Side::Source => Owner::Source(SourceId(id)),
        Side::Target => Owner::Target(TargetId(id)),
    }
}

/// `GET /ui/sources`
#[handler]
pub async fn sources_page(viewed: Viewed, Data(state): Data<&AppState>) -> UiResult {
    list_page(viewed, state, Side::Source).await
}

/// `GET /ui/targets`
#[handler]
pub async fn targets_page(viewed: Viewed, Data(state): Data<&AppState>) -> UiResult {
    list_page(viewed, state, Side::Target).await
}

async fn create(viewed: Viewed, state: &AppState, side: Side, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let back = format!("/ui/{}", side.many());
    let made = async {
        let new = NewEndpoint {
            name: form.need("name")?.to_string(),
            kind: form.need("type")?.to_string(),
            config: Some(config_of(side, &form)?),
        };
        Ok::<i64, UiError>(match side {
            Side::Source => sources::create(&state.db, tenant, new).await?.id,
            Side::Target => targets::create(&state.db, tenant, new).await?.id,
        })
    }
    .await;
    match made {
        Ok(id) => Ok(done(
            &viewed,
            &format!("/ui/{}/{id}", side.many()),
            format!("{} {id} was created.", capitalised(side.one())),
        )),
        Err(e) => Ok(refused(&viewed, &back, "create", &e)),
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `POST /ui/sources`
#[handler]
pub async fn create_source(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    create(viewed, state, Side::Source, form).await
}

/// `POST /ui/targets`
#[handler]
pub async fn create_target(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    create(viewed, state, Side::Target, form).await
}

pub struct SourceOption {
    pub id: i64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "pages/endpoint.html")]
struct OnePage {
    layout: Layout,
    side: Side,
    id: i64,
    name: String,
    kind: String,
    records: u64,
    manual: u64,
    settings: Settings,
    /// What this type does today ("records are kept here; nothing is sent yet").
    what_it_does: &'static str,
    types: Vec<(&'static str, &'static str)>,
    /// For a target's sync form: the tenant's sources, and the one chosen first (0: none).
    sources: Vec<SourceOption>,
    chosen_source: i64,
}

async fn one_page(
    viewed: Viewed,
    state: &AppState,
    side: Side,
    id: i64,
    chosen_source: i64,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let (name, kind, config) = match side {
        Side::Source => {
            let m = sources::get(&state.db, tenant, SourceId(id)).await?;
            (m.name, m.kind, m.config)
        }
        Side::Target => {
            let m = targets::get(&state.db, tenant, TargetId(id)).await?;
            (m.name, m.kind, m.config)
        }
    };
    let records = properties::list_state(&state.db, tenant, owner(side, id))
        .await?
        .live;
    let manual = match side {
        Side::Source => 0,
        Side::Target => manual_count(state, TargetId(id)).await?,
    };
    let sources = match side {
        Side::Source => Vec::new(),
        Side::Target => sources::list(&state.db, tenant)
            .await?
            .into_iter()
            .map(|s| SourceOption {
                id: s.id,
                name: s.name,
            })
            .collect(),
    };
    let what_it_does = what_it_does(side, &kind);
    render(&OnePage {
        layout: Layout::new(
            &viewed,
            format!("{} {name}", capitalised(side.one())),
            side.many(),
        ),
        side,
        id,
        name,
        kind,
        records,
        manual,
        settings: settings_of(&config),
        what_it_does,
        types: types(side),
        sources,
        chosen_source,
    })
}

async fn manual_count(state: &AppState, target: TargetId) -> Result<u64, UiError> {
    Ok(crate::service::dashboard::manual_count(&state.db, target).await?)
}

/// `GET /ui/sources/:id`
#[handler]
pub async fn source_page(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
) -> UiResult {
    one_page(viewed, state, Side::Source, id, 0).await
}

/// What a target's page may be asked: the source its sync form offers first.
#[derive(serde::Deserialize, Default)]
pub struct TargetQuery {
    source: Option<i64>,
}

/// `GET /ui/targets/:id` (`?source=S` chooses S in the sync form)
#[handler]
pub async fn target_page(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    Query(query): Query<TargetQuery>,
) -> UiResult {
    one_page(viewed, state, Side::Target, id, query.source.unwrap_or(0)).await
}

async fn update(viewed: Viewed, state: &AppState, side: Side, id: i64, form: Posted) -> UiResult {
    let tenant = viewed.tenant()?;
    let back = format!("/ui/{}/{id}", side.many());
    let result = async {
        let update = EndpointUpdate {
            name: form.get("name").map(str::to_string),
            kind: form.get("type").map(str::to_string),
            config: Some(config_of(side, &form)?),
        };
        match side {
            Side::Source => {
                sources::update(&state.db, tenant, SourceId(id), update).await?;
            }
            Side::Target => {
                targets::update(&state.db, tenant, TargetId(id), update).await?;
            }
        }
        Ok::<(), UiError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(done(&viewed, &back, "The settings were saved.")),
        Err(e) => Ok(refused(&viewed, &back, "settings", &e)),
    }
}

/// `POST /ui/sources/:id`
#[handler]
pub async fn update_source(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    update(viewed, state, Side::Source, id, form).await
}

/// `POST /ui/targets/:id`
#[handler]
pub async fn update_target(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    update(viewed, state, Side::Target, id, form).await
}

#[derive(Template)]
#[template(path = "pages/confirm_delete.html")]
struct DeletePage {
    layout: Layout,
    side: Side,
    id: i64,
    name: String,
    records: u64,
}

async fn delete_confirm(viewed: Viewed, state: &AppState, side: Side, id: i64) -> UiResult {
    let tenant = viewed.tenant()?;
    let name = name_of(state, tenant, side, id).await?;
    let records = properties::list_state(&state.db, tenant, owner(side, id))
        .await?
        .live;
    render(&DeletePage {
        layout: Layout::new(&viewed, format!("Delete {name}?"), side.many()),
        side,
        id,
        name,
        records,
    })
}

async fn name_of(
    state: &AppState,
    tenant: TenantId,
    side: Side,
    id: i64,
) -> Result<String, UiError> {
    Ok(match side {
        Side::Source => sources::get(&state.db, tenant, SourceId(id)).await?.name,
        Side::Target => targets::get(&state.db, tenant, TargetId(id)).await?.name,
    })
}

/// `GET /ui/sources/:id/delete`
#[handler]
pub async fn delete_source_confirm(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
) -> UiResult {
    delete_confirm(viewed, state, Side::Source, id).await
}

/// `GET /ui/targets/:id/delete`
#[handler]
pub async fn delete_target_confirm(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
) -> UiResult {
    delete_confirm(viewed, state, Side::Target, id).await
}

async fn delete(viewed: Viewed, state: &AppState, side: Side, id: i64) -> UiResult {
    let tenant = viewed.tenant()?;
    let name = name_of(state, tenant, side, id).await?;
    let result = match side {
        Side::Source => sources::delete(&state.db, tenant, SourceId(id)).await,
        Side::Target => targets::delete(&state.db, tenant, TargetId(id)).await,
    };
    match result {
        Ok(()) => Ok(done(
            &viewed,
            &format!("/ui/{}", side.many()),
            format!(
                "{} {name:?} was deleted with its records.",
                capitalised(side.one())
            ),
        )),
        Err(e) => Ok(refused(
            &viewed,
            &format!("/ui/{}/{id}/delete", side.many()),
            "delete",
            &e.into(),
        )),
    }
}

/// `POST /ui/sources/:id/delete`
#[handler]
pub async fn delete_source(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    _form: Posted,
) -> UiResult {
    delete(viewed, state, Side::Source, id).await
}

/// `POST /ui/targets/:id/delete`
#[handler]
pub async fn delete_target(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    _form: Posted,
) -> UiResult {
    delete(viewed, state, Side::Target, id).await
}
