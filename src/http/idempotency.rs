//! The `Idempotency-Key` header of mutating POSTs (see `service::idempotency`): a retry of a
//! request that was answered gets the first response again, with `Idempotent-Replayed: true`;
//! the same key with another request is a 422; a retry while the first still runs is a 409
//! with `Retry-After`. Keys belong to the tenant (or the admin) whose API key sent them.
use super::AppState;
use super::problem::{Problem, problem_response};
use crate::service::idempotency::{self, Answer, Found, Request as Keyed, Scope};
use crate::service::keys;
use bytes::Bytes;
use futures_util::StreamExt;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    problem_response(&Problem::new(status, detail))
}

/// Whose keys the request's `X-API-Key` makes them; `None` when it is missing or wrong (the
/// handler answers that with its 401).
async fn scope_of(state: &AppState, req: &Request) -> Result<Option<Scope>, Response> {
    let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    match keys::authenticate(&state.db, key).await {
        Ok(keys::Principal::Tenant { tenant, .. }) => Ok(Some(Scope::Tenant(tenant))),
        Ok(keys::Principal::Admin { .. }) => Ok(Some(Scope::Admin)),
        Err(e @ (crate::AppError::Db(_) | crate::AppError::StorageFull(_))) => {
            tracing::error!("database error while checking a key: {e}");
            Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the database failed; nothing was written, try again",
            ))
        }
        Err(_) => Ok(None),
    }
}

/// Replaces the request's body by one that hashes what the handler reads of it. An import
/// reads its body whole as a stream when it succeeds; any other body is small (the limit was
/// checked) and is read and hashed here, whether the handler reads it or not.
async fn hash_body(req: &mut Request) -> Result<Arc<Mutex<Sha256>>, Response> {
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    if !req.uri().path().ends_with("/import") {
        let bytes = req
            .take_body()
            .into_bytes()
            .await
            .map_err(|_| problem(StatusCode::BAD_REQUEST, "could not read the request body"))?;
        hasher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(&bytes);
        req.set_body(bytes);
        return Ok(hasher);
    }
    let seen = hasher.clone();
    let stream = req.take_body().into_bytes_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            seen.lock().unwrap_or_else(|e| e.into_inner()).update(bytes);
        }
        chunk
    });
    req.set_body(poem::Body::from_bytes_stream(stream));
    Ok(hasher)
}

fn hex_of(hasher: &Arc<Mutex<Sha256>>) -> String {
    hex::encode(
        hasher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .finalize(),
    )
}

/// API keys are shown once: a stored response keeps none (`sm_…`, `sma_…`).
fn without_secrets(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("\"sm") {
        out.push_str(&rest[..at + 1]);
        let tail = &rest[at + 1..];
        let prefix = if tail.starts_with("sma_") {
            4
        } else if tail.starts_with("sm_") {
            3
        } else {
            0
        };
        let secret = tail[prefix..]
            .bytes()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if prefix > 0 && secret >= 32 && tail[prefix + secret..].starts_with('"') {
            out.push_str("(shown only once: create another key if it was lost)");
            rest = &tail[prefix + secret..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The middleware: POSTs with an `Idempotency-Key` go through the key; everything else
/// straight to the API.
pub async fn idempotent<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let key = match req.headers().get(HEADER) {
        Some(v) if req.method() == Method::POST => v.to_str().unwrap_or("").to_string(),
        _ => return Ok(ep.call(req).await?.into_response()),
    };
    if let Err(e) = idempotency::validate_key(&key) {
        return Ok(problem(StatusCode::BAD_REQUEST, e.to_string()));
    }
    let Some(state) = req.data::<AppState>().cloned() else {
        return Ok(ep.call(req).await?.into_response());
    };
    let scope = match scope_of(&state, &req).await {
        Ok(Some(scope)) => scope,
        Ok(None) => return Ok(ep.call(req).await?.into_response()),
        Err(resp) => return Ok(resp),
    };
    let request = format!(
        "POST {}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let keyed = Keyed {
        scope,
        key,
        request,
    };
    let hasher = match hash_body(&mut req).await {
        Ok(hasher) => hasher,
        Err(resp) => return Ok(resp),
    };
    let found = match idempotency::begin(&state.db, &keyed).await {
        Ok(found) => found,
        Err(e) => return Ok(crate::http::problem::ApiError::from(e).into_response()),
    };
    match found {
        Found::Running => {
            let mut resp = problem(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is still being answered; retry in a few \
                 seconds to get its response",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Ok(resp)
        }
        Found::Unanswered(_) => Ok(problem(
            StatusCode::CONFLICT,
            "the request with this Idempotency-Key was carried out, but the server stopped before \
             it could keep the response; do not send it again: its run is in GET /runs",
        )),
        Found::Answered(row) => {
            // The same request? Its body is read (and hashed) whole first.
            let mut body = req.take_body().into_bytes_stream();
            while let Some(chunk) = body.next().await {
                if chunk.is_err() {
                    return Ok(problem(
                        StatusCode::BAD_REQUEST,
                        "could not read the request body",
                    ));
                }
            }
            let same = row.request == keyed.request
                && row.body_hash.as_deref() == Some(hex_of(&hasher).as_str());
            if !same {
                return Ok(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "this Idempotency-Key was used for another request ({}, or another body) \
                         in the last {} hours; use a new key for a new request",
                        row.request,
                        idempotency::TTL_HOURS
                    ),
                ));
            }
            let mut resp = Response::builder()
                .status(
                    StatusCode::from_u16(row.status.unwrap_or(200) as u16)
                        .unwrap_or(StatusCode::OK),
                )
                .header(REPLAYED, "true");
            if let Some(ct) = &row.content_type {
                resp = resp.content_type(ct.clone());
            }
            Ok(resp.body(row.response.unwrap_or_default()))
        }
        Found::Claimed(claim) => {
            let beat = crate::db::is_shared(&state.db).then(|| {
                let db = state.db.clone();
                tokio::spawn(async move {
                    let every = std::time::Duration::from_secs(idempotency::HEARTBEAT_SECS);
                    loop {
                        tokio::time::sleep(every).await;
                        if let Err(e) = idempotency::heartbeat(&db, claim).await {
                            tracing::warn!("idempotency heartbeat: {e}");
                        }
                    }
                })
            });
            let result = idempotency::scoped(claim, ep.call(req)).await;
            if let Some(beat) = beat {
                beat.abort();
            }
            let resp = match result {
                Ok(r) => r.into_response(),
                Err(e) => super::problem::from_poem_error(e).await,
            };
            let (parts, body) = resp.into_parts();
            let bytes: Bytes = body.into_bytes().await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            let answer = Answer {
                status: parts.status.as_u16(),
                content_type: parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body: without_secrets(&text),
                body_hash: hex_of(&hasher),
            };
            if let Err(e) = idempotency::finish(&state.db, claim, answer).await {
                tracing::error!("could not keep the response for its Idempotency-Key: {e}");
            }
            Ok(Response::from_parts(parts, poem::Body::from(bytes)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_responses_keep_no_key() {
        let key = format!("sm_{}", "ab12".repeat(12));
        let admin = format!("sma_{}", "cd34".repeat(12));
        let body = format!(r#"{{"api_key":"{key}","x":"sm_short","y":"{admin}","z":"smile"}}"#);
        let kept = without_secrets(&body);
        assert!(!kept.contains(&key) && !kept.contains(&admin), "{kept}");
        assert!(kept.contains(r#""x":"sm_short""#) && kept.contains(r#""z":"smile""#));
        assert!(kept.contains("shown only once"));
    }
}
