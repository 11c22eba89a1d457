//! What every dashboard request passes: the session (or the login page), the same-site check
//! of forms, the flash message, and the security headers of every answer.
use super::error::BASE;
use super::{CSP, FLASH_COOKIE, Flash, SESSION_COOKIE, UiError, Viewed};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::sessions;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;

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
