//! Logging in with an API key, and out.
use super::{
    Posted, SESSION_COOKIE, UiError, UiResult, Viewed, cookie, is_https, parse_form, render,
};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::sessions::{self, Viewer};
use askama::Template;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage {
    base: String,
    css: String,
    icon: String,
    error: Option<String>,
    /// Plain HTTP from another machine: the key would travel unencrypted.
    insecure: bool,
    message: Option<String>,
}

fn is_local(req: &Request) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

fn login_view(req: &Request, state: &AppState, error: Option<String>) -> LoginPage {
    LoginPage {
        base: state.base_path.clone(),
        css: format!("{}{}", state.base_path, crate::http::assets::url("app.css")),
        icon: format!(
            "{}{}",
            state.base_path,
            crate::http::assets::url("favicon.svg")
        ),
        error,
        insecure: !is_https(req) && !is_local(req),
        message: None,
    }
}

/// `GET /ui/login`
#[handler]
pub async fn login_page(req: &Request, Data(state): Data<&AppState>) -> UiResult {
    if req.extensions().get::<Viewed>().is_some() {
        return Ok(Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, format!("{}/ui", state.base_path))
            .finish());
    }
    let mut page = login_view(req, state, None);
    if cookie(req, "sm_flash").is_some() {
        page.message = Some("You are logged out.".into());
    }
    render(&page)
}

/// `POST /ui/login`: a new session for a valid key.
#[handler]
pub async fn login(req: &Request, Data(state): Data<&AppState>, body: Body) -> UiResult {
    let bytes = body
        .into_bytes()
        .await
        .map_err(|e| UiError::BadForm(format!("the form could not be read: {e}")))?;
    let form = parse_form(&bytes);
    let key = form
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    if key.is_empty() {
        let page = login_view(req, state, Some("Paste your API key first.".into()));
        return Ok(with_status(
            render(&page)?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let addr = crate::http::auth::client_ip(req);
    if let Some(wait) = state.limits.blocked(addr) {
        let mut page = render(&login_view(
            req,
            state,
            Some(format!(
                "Too many wrong keys from this computer: wait {} seconds, then try again.",
                wait.as_secs().max(1)
            )),
        ))?;
        page.set_status(StatusCode::TOO_MANY_REQUESTS);
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(page);
    }
    let (token, session) = match sessions::login(&state.db, key).await {
        Ok(found) => found,
        Err(AppError::Unauthorized(reason)) => {
            state.limits.failed(addr);
            let page = login_view(req, state, Some(reason));
            return Ok(with_status(render(&page)?, StatusCode::UNAUTHORIZED));
        }
        Err(e) => return Err(e.into()),
    };
    let landing = match session.viewer {
        Viewer::Admin { .. } => "/ui/admin",
        Viewer::Tenant { .. } => "/ui",
    };
    let secure = if is_https(req) { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path={}/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        state.base_path,
        sessions::MAX_DAYS * 24 * 3600
    );
    let mut resp = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, format!("{}{landing}", state.base_path))
        .finish();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    resp.set_status(status);
    resp
}

/// `POST /ui/logout`: the session ends (in the database, not only in this browser).
#[handler]
pub async fn logout(req: &Request, Data(state): Data<&AppState>, _form: Posted) -> UiResult {
    if let Some(token) = cookie(req, SESSION_COOKIE) {
        sessions::logout(&state.db, token).await?;
    }
    let base = &state.base_path;
    let mut resp = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, format!("{base}/ui/login"))
        .finish();
    for c in [
        format!("{SESSION_COOKIE}=; Path={base}/; Max-Age=0; HttpOnly; SameSite=Strict"),
        format!("sm_flash=logout; Path={base}/ui; Max-Age=60; HttpOnly; SameSite=Strict"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}
