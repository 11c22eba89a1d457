//! The overview of a tenant: its sources and targets, open warnings, the last runs and a
//! chart of what they changed. No "all good" while a warning is open.
use super::view::{self, Bar, Layout, RunRow, When};
use super::{UiResult, Viewed, redirect, render};
use crate::http::AppState;
use crate::service::{dashboard, keys};
use askama::Template;
use poem::handler;
use poem::web::Data;

pub struct EndpointRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub records: u64,
    /// Hand-edited records (targets).
    pub manual: u64,
}

#[derive(Template)]
#[template(path = "pages/overview.html")]
struct OverviewPage {
    layout: Layout,
    sources: Vec<EndpointRow>,
    targets: Vec<EndpointRow>,
    /// "3 conflicts", "1 rejected record", … (most first).
    open_by_kind: Vec<String>,
    open: u64,
    runs: Vec<RunRow>,
    bars: Vec<Bar>,
    chart_height: u32,
    chart_width: u32,
    /// "the last run at 03:00 changed 41 records", for the calm state.
    last_change: Option<(When, u64)>,
}

/// `GET /ui`
#[handler]
pub async fn page(viewed: Viewed, Data(state): Data<&AppState>) -> UiResult {
    if viewed.is_admin() {
        return Ok(redirect(&viewed, "/ui/admin", None));
    }
    let tenant = viewed.tenant()?;
    let o = dashboard::overview(&state.db, tenant).await?;
    let bars = view::chart(&o.runs);
    let names = keys::names(&state.db, tenant).await?;
    let page = OverviewPage {
        layout: Layout::new(&viewed, "Overview", "overview"),
        sources: o
            .sources
            .iter()
            .map(|(s, n)| EndpointRow {
                id: s.id,
                name: s.name.clone(),
                kind: s.kind.clone(),
                records: *n,
                manual: 0,
            })
            .collect(),
        targets: o
            .targets
            .iter()
            .map(|(t, n, m)| EndpointRow {
                id: t.id,
                name: t.name.clone(),
                kind: t.kind.clone(),
                records: *n,
                manual: *m,
            })
            .collect(),
        open: o.open_warnings(),
        open_by_kind: o
            .open_by_kind
            .iter()
            .map(|(kind, n)| view::warnings_of_kind(*n, kind))
            .collect(),
        runs: o
            .runs
            .iter()
            .take(10)
            .map(|r| RunRow::named(r, &names))
            .collect(),
        chart_width: (bars.len() as u32 * 20).max(20),
        chart_height: view::CHART_HEIGHT,
        bars,
        last_change: dashboard::last_change(&o.runs).map(|(at, n)| (When::of(&at), n)),
    };
    render(&page)
}
