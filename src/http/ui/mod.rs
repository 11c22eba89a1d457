//! The browser dashboard under `/ui`: server-rendered pages (askama templates compiled in)
//! that work without JavaScript. Every change is a plain `<form method="post">` answered by a
//! 303 to a page that shows what happened (a flash message); a problem's detail is shown next
//! to the form it came from. Handlers translate: one service call, a view struct filled.
//!
//! This file holds what every page shares: the session gate (login, CSRF, cross-site posts,
//! security headers), the layout, flash messages, forms and errors. One file per page group.
pub mod admin;
pub mod endpoints;
mod error;
mod form;
mod gate;
pub mod imports;
pub mod overview;
pub mod records;
pub mod runs;
pub mod session;
mod settings_form;
pub mod sync;
pub mod view;
pub mod warnings;

use crate::service::sessions::{Session, Viewer};
use askama::Template;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{FromRequest, Request, RequestBody, Response, Route, get, post};

pub use error::UiError;
pub use form::{Posted, bad_csrf, csrf_ok, parse_form};
pub use gate::{cookie, gate, is_https, same_origin};

/// The session cookie.
pub const SESSION_COOKIE: &str = "sm_session";
pub(crate) const FLASH_COOKIE: &str = "sm_flash";

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
     data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's routes, below `/ui`.
pub fn routes() -> Route {
    Route::new()
        .at("/", get(overview::page))
        .at("/login", get(session::login_page).post(session::login))
        .at("/logout", post(session::logout))
        .at("/static/:hash/*name", get(super::assets::serve))
        .at("/admin", get(admin::tenants_page))
        .at("/admin/tenants", post(admin::create_tenant))
        .at("/admin/tenants/:id", get(admin::tenant_page))
        .at("/admin/tenants/:id/keys", post(admin::create_key))
        .at(
            "/admin/tenants/:id/keys/:key/revoke",
            get(admin::revoke_confirm).post(admin::revoke),
        )
        .at(
            "/sources",
            get(endpoints::sources_page).post(endpoints::create_source),
        )
        .at(
            "/sources/:id",
            get(endpoints::source_page).post(endpoints::update_source),
        )
        .at(
            "/sources/:id/delete",
            get(endpoints::delete_source_confirm).post(endpoints::delete_source),
        )
        .at("/sources/:id/import", post(imports::preview))
        .at("/sources/:id/import/confirm", post(imports::confirm))
        .at("/sources/:id/records", get(records::source_records))
        .at(
            "/sources/:id/records/*external_id",
            get(records::source_record),
        )
        .at(
            "/targets",
            get(endpoints::targets_page).post(endpoints::create_target),
        )
        .at(
            "/targets/:id",
            get(endpoints::target_page).post(endpoints::update_target),
        )
        .at(
            "/targets/:id/delete",
            get(endpoints::delete_target_confirm).post(endpoints::delete_target),
        )
        .at("/targets/:id/records", get(records::target_records))
        .at(
            "/targets/:id/records/*external_id",
            get(records::target_record),
        )
        .at("/snapshots/:id/restore", post(records::restore))
        .at("/sync/preview", post(sync::preview))
        .at("/sync", post(sync::confirm))
        .at("/warnings", get(warnings::list))
        .at("/warnings/bulk", post(warnings::bulk_confirm))
        .at("/warnings/bulk/resolve", post(warnings::bulk_resolve))
        .at("/warnings/:id", get(warnings::page))
        .at("/warnings/:id/resolve", post(warnings::resolve))
        .at("/runs", get(runs::list))
        .at("/runs/:id", get(runs::page))
        .at(
            "/runs/:id/rollback",
            get(runs::rollback_confirm).post(runs::rollback),
        )
}

/// A message shown once on the next page: what a form did, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
    /// The form it belongs next to (its `id`), if any; else it is shown at the top.
    pub at: String,
    /// What to do next: a page of the dashboard (a path under `/ui/`) and the link's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<(String, String)>,
}

/// What a page request knows about its viewer.
#[derive(Clone)]
pub struct Viewed {
    pub session: Session,
    /// The CSRF token every form of the page carries.
    pub csrf: String,
    /// Where the app is mounted ("" or e.g. "/sync"): every link starts with it.
    pub base: String,
    pub flash: Option<Flash>,
}

impl Viewed {
    pub fn viewer(&self) -> &Viewer {
        &self.session.viewer
    }

    /// The tenant of a tenant's session, or a 403 for the admin's.
    pub fn tenant(&self) -> Result<crate::ids::TenantId, UiError> {
        match &self.session.viewer {
            Viewer::Tenant { tenant, .. } => Ok(*tenant),
            Viewer::Admin { .. } => Err(UiError::Forbidden(
                "this page shows a tenant's data: log in with that tenant's key (the admin key \
                 manages tenants and keys)"
                    .into(),
            )),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.session.viewer, Viewer::Admin { .. })
    }
}

impl<'a> FromRequest<'a> for Viewed {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions()
            .get::<Viewed>()
            .cloned()
            .ok_or_else(|| poem::Error::from_status(StatusCode::UNAUTHORIZED))
    }
}

pub type UiResult = Result<Response, UiError>;

/// Renders a page.
pub fn render(page: &impl Template) -> UiResult {
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// A 303 to `path` (below the base) with a flash message for the page it leads to.
pub fn redirect(viewed: &Viewed, path: &str, flash: Option<Flash>) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, format!("{}{path}", viewed.base))
        .finish();
    if let Some(flash) = flash {
        set_flash(&mut resp, &viewed.base, &flash);
    }
    resp
}

/// `redirect` with a message saying what was done.
pub fn done(viewed: &Viewed, path: &str, text: impl Into<String>) -> Response {
    done_then(viewed, path, text, None)
}

/// `done`, with a link to what to do next (`(path under the base, words)`).
pub fn done_then(
    viewed: &Viewed,
    path: &str,
    text: impl Into<String>,
    next: Option<(String, String)>,
) -> Response {
    let flash = Flash {
        ok: true,
        text: text.into(),
        at: String::new(),
        next,
    };
    redirect(viewed, path, Some(flash))
}

/// `redirect` back to the form `at` of `path`, with why it was refused.
pub fn refused(viewed: &Viewed, path: &str, at: &str, err: &UiError) -> Response {
    let flash = Flash {
        ok: false,
        text: err.detail(),
        at: at.to_string(),
        next: None,
    };
    redirect(viewed, &format!("{path}#{at}"), Some(flash))
}

fn set_flash(resp: &mut Response, base: &str, flash: &Flash) {
    let value = serde_json::to_string(flash).unwrap_or_default();
    let cookie = format!(
        "{FLASH_COOKIE}={}; Path={}/ui; Max-Age=60; HttpOnly; SameSite=Strict",
        form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
        base
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}
