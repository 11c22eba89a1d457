//! The browser dashboard under `/ui`: server-rendered pages (askama templates compiled in)
//! that work without JavaScript. Every change is a plain `<form method="post">` answered by a
//! 303 to a page that shows what happened (a flash message); a problem's detail is shown next
//! to the form it came from. Handlers translate: one service call, a view struct filled.
//!
//! This file holds what every page shares: the session gate (login, CSRF, cross-site posts,
//! security headers), the layout, flash messages, forms and errors. One file per page group.
pub mod admin;
pub mod endpoints;
pub mod imports;
pub mod overview;
pub mod records;
pub mod runs;
pub mod session;
pub mod sync;
pub mod view;
pub mod warnings;

use super::AppState;
use crate::error::AppError;
use crate::service::sessions::{self, Session, Viewer};
use askama::Template;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response, Route, get, post};
use std::sync::Arc;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sm_session";
const FLASH_COOKIE: &str = "sm_flash";

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

/// A page that could not be shown, or a form that was refused.
#[derive(Debug)]
pub enum UiError {
    App(AppError),
    /// A cross-site form, a wrong CSRF token, a page for someone else.
    Forbidden(String),
    /// A form that makes no sense (a missing field, say).
    BadForm(String),
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::App(e)
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::App(AppError::Db(sea_orm::DbErr::Custom(format!(
            "a page could not be rendered: {e}"
        ))))
    }
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::App(AppError::NotFound { .. }) => StatusCode::NOT_FOUND,
            UiError::App(AppError::Unauthorized(_)) => StatusCode::UNAUTHORIZED,
            UiError::App(AppError::Conflict(_)) => StatusCode::CONFLICT,
            UiError::App(AppError::Db(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            UiError::App(AppError::StorageFull(_)) => StatusCode::INSUFFICIENT_STORAGE,
            UiError::App(_) | UiError::BadForm(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    /// What the person reads.
    pub fn detail(&self) -> String {
        match self {
            UiError::App(AppError::Db(e)) => {
                tracing::error!("dashboard: {e}");
                "the database failed; nothing was changed, try again".into()
            }
            UiError::App(e) => e.to_string(),
            UiError::Forbidden(t) | UiError::BadForm(t) => t.clone(),
        }
    }
}

tokio::task_local! {
    /// The app's base path, for the error page (which is built without the request).
    static BASE: String;
}

/// The error page (no navigation: it is shown outside any session too).
#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
    css: String,
    base: String,
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for UiError {}

impl poem::error::ResponseError for UiError {
    fn status(&self) -> StatusCode {
        UiError::status(self)
    }

    fn as_response(&self) -> Response {
        self.page()
    }
}

impl UiError {
    /// The error page.
    fn page(&self) -> Response {
        let status = self.status();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            detail: self.detail(),
            css: format!(
                "{}{}",
                BASE.try_with(|b| b.clone()).unwrap_or_default(),
                super::assets::url("app.css")
            ),
            base: BASE.try_with(|b| b.clone()).unwrap_or_default(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "the page could not be shown".to_string());
        Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        self.page()
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

/// The value of cookie `name` in the request.
pub fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came over HTTPS (directly, or through a proxy that says so).
pub fn is_https(req: &Request) -> bool {
    req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Whether a POST comes from a page of this site: `Sec-Fetch-Site` says so (browsers send
/// it), else `Origin` names this host; a request with neither (not a browser) passes.
pub fn same_origin(req: &Request) -> bool {
    if let Some(site) = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
    {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !host.is_empty() && origin_host == host
}

/// Headers of every dashboard response.
fn secure(resp: &mut Response, page: bool) {
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if page {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The gate of every `/ui` request: security headers; POSTs only from this site's pages; a
/// live session (else the login page); the flash message of the page before.
pub async fn gate<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    // The path below `/ui` (the routes are mounted there).
    let rel = req.uri().path().to_string();
    let path = format!("/ui{rel}");
    let is_static = rel.starts_with("/static/");
    let state = req.data::<AppState>().cloned();
    let base = state
        .as_ref()
        .map(|s| s.base_path.clone())
        .unwrap_or_default();
    if req.method() == Method::POST && !same_origin(&req) {
        let mut resp = UiError::Forbidden(
            "this form was sent from another site, so it was refused; use the dashboard's own \
             pages"
                .into(),
        )
        .into_response();
        secure(&mut resp, true);
        return Ok(resp);
    }
    let public = is_static || rel == "/login";
    let session = match (&state, cookie(&req, SESSION_COOKIE)) {
        (Some(state), Some(token)) => {
            let token = token.to_string();
            match sessions::current(&state.db, &token).await {
                Ok(Some(session)) => Some((session, token)),
                Ok(None) => None,
                Err(e) => {
                    let mut resp = UiError::App(e).into_response();
                    secure(&mut resp, true);
                    return Ok(resp);
                }
            }
        }
        _ => None,
    };
    let flash: Option<Flash> = cookie(&req, FLASH_COOKIE).and_then(|v| {
        let decoded: String = form_urlencoded::parse(format!("v={v}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .next()?;
        let mut flash: Flash = serde_json::from_str(&decoded).ok()?;
        // A link leads to a page of the dashboard, nowhere else.
        flash.next = flash
            .next
            .filter(|(path, _)| path.starts_with("/ui/") && !path.contains("//"));
        Some(flash)
    });
    match session {
        Some((session, token)) => {
            req.extensions_mut().insert(Viewed {
                session,
                csrf: sessions::csrf_token(&token),
                base: base.clone(),
                flash: flash.clone(),
            });
        }
        None if public => {}
        None => {
            let mut resp = Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, format!("{base}/ui/login"))
                .finish();
            secure(&mut resp, true);
            return Ok(resp);
        }
    }
    let page_path = path.clone();
    let call = async move {
        match ep.call(req).await {
            Ok(r) => r.into_response(),
            // Our own errors and refusals (a bad CSRF token) are pages already.
            Err(e) if e.is::<UiError>() || e.status() == StatusCode::FORBIDDEN => e.into_response(),
            Err(e) if e.status() == StatusCode::NOT_FOUND => {
                UiError::App(AppError::not_found("page", page_path.clone())).into_response()
            }
            Err(e) if e.status() == StatusCode::METHOD_NOT_ALLOWED => {
                UiError::BadForm("this page cannot be used that way; follow the links".into())
                    .into_response()
            }
            Err(e) => {
                UiError::BadForm(format!("the request could not be read: {e}")).into_response()
            }
        }
    };
    let mut resp = BASE.scope(base.clone(), call).await;
    if flash.is_some() && !is_static && resp.status() != StatusCode::SEE_OTHER {
        // Shown once: cleared now.
        let clear =
            format!("{FLASH_COOKIE}=; Path={base}/ui; Max-Age=0; HttpOnly; SameSite=Strict");
        if let Ok(v) = HeaderValue::from_str(&clear) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    secure(&mut resp, !is_static);
    Ok(resp)
}

/// A posted form (`application/x-www-form-urlencoded`): its fields in order, repeated names
/// kept (checkboxes), after its CSRF token was checked against the session's.
pub struct Posted {
    pub fields: Vec<(String, String)>,
}

impl Posted {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field that must be there.
    pub fn need(&self, name: &str) -> Result<&str, UiError> {
        self.get(name)
            .ok_or_else(|| UiError::BadForm(format!("the form has no field {name:?}")))
    }

    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v == "on" || v == "true" || v == "1")
    }
}

/// Parses a form body.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether `given` is the session's CSRF token.
pub fn csrf_ok(viewed: &Viewed, given: Option<&str>) -> bool {
    given.is_some_and(|g| sessions::same_secret(g, &viewed.csrf))
}

pub fn bad_csrf() -> UiError {
    UiError::Forbidden(
        "the form's security token is missing or out of date (the page was open too long, or \
         you logged in again since): reload the page and send the form again"
            .into(),
    )
}

impl<'a> FromRequest<'a> for Posted {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let viewed = Viewed::from_request(req, body).await?;
        let bytes = body
            .take()?
            .into_bytes()
            .await
            .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
        let fields = parse_form(&bytes);
        let posted = Posted { fields };
        if !csrf_ok(&viewed, posted.get("csrf")) {
            return Err(poem::Error::from_response(bad_csrf().into_response()));
        }
        Ok(posted)
    }
}
