//! RFC 9457 problem+json: the one shape of every error response, and the one place where
//! service errors become HTTP statuses.
use crate::domain::stats::RecordError;
use crate::error::AppError;
use poem::Response;
use poem::http::{StatusCode, header};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem detail.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` when the status says it all).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and what to fix.
    pub detail: String,
    /// Per-record errors of a rejected import.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<RecordErrorDto>>,
}

/// One record of an import that was not imported.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct RecordErrorDto {
    /// Zero-based position of the record in `data`.
    pub index: u64,
    /// The record's id, when it could be read.
    pub external_id: Option<String>,
    pub reason: String,
}

impl From<RecordError> for RecordErrorDto {
    fn from(e: RecordError) -> Self {
        RecordErrorDto {
            index: e.index,
            external_id: e.external_id,
            reason: e.reason,
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }
}

/// The error responses of the API, all `application/problem+json`.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed (bad JSON, wrong shape, bad parameter).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// The `X-API-Key` header is missing, unknown or revoked.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// No such resource for this tenant.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The path does not take this method; `Allow` lists the ones it takes.
    #[oai(status = 405, content_type = "application/problem+json")]
    MethodNotAllowed(Json<Problem>),
    /// The request body came too slowly (`serve --read-timeout`); nothing was written.
    #[oai(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Json<Problem>),
    /// Refused in the current state (e.g. a full import that would delete too much).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The request body is larger than the server's limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The body is not sent as `Content-Type: application/json`.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Too many failed authentications from this address, or too many requests of this tenant:
    /// wait for `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>),
    /// Well-formed but invalid input; `detail` says what to fix.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// The server failed; nothing was written.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The database's disk is full; nothing was written.
    #[oai(status = 507, content_type = "application/problem+json")]
    InsufficientStorage(Json<Problem>),
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let detail = err.to_string();
        match err {
            AppError::NotFound { .. } => {
                ApiError::NotFound(Json(Problem::new(StatusCode::NOT_FOUND, detail)))
            }
            AppError::Malformed(_) => {
                ApiError::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, detail)))
            }
            AppError::Invalid { .. } => ApiError::Unprocessable(Json(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                detail,
            ))),
            AppError::Rejected { errors } => {
                let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
                p.errors = Some(errors.into_iter().map(Into::into).collect());
                ApiError::Unprocessable(Json(p))
            }
            AppError::Conflict(_) => {
                ApiError::Conflict(Json(Problem::new(StatusCode::CONFLICT, detail)))
            }
            AppError::Unauthorized(_) => {
                ApiError::Unauthorized(Json(Problem::new(StatusCode::UNAUTHORIZED, detail)))
            }
            AppError::StorageFull(_) => {
                tracing::error!("{detail}");
                ApiError::InsufficientStorage(Json(Problem::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "the database's disk is full, so nothing was written; try again when the \
                     operator has freed space",
                )))
            }
            AppError::Db(e) => {
                tracing::error!("database error: {e}");
                ApiError::Internal(Json(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database failed; nothing was written, try again",
                )))
            }
        }
    }
}

/// What a 413 says, for a body limit of `limit` bytes.
pub fn too_large_detail(limit: usize) -> String {
    format!(
        "the request body is larger than the limit of {} MiB; send the records in smaller \
         batches (the limit is `serve --max-body-mb`)",
        limit >> 20
    )
}

/// A 413 for a body limit of `limit` bytes.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(Json(Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        too_large_detail(limit),
    )))
}

/// A 408 for a body that came too slowly (gaps longer than `gap`).
pub fn too_slow(gap: std::time::Duration) -> ApiError {
    ApiError::RequestTimeout(Json(Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        crate::http::body::too_slow_detail(gap),
    )))
}

/// A 429 problem with `Retry-After`, as a response.
pub fn too_many(wait: std::time::Duration, detail: &str) -> Response {
    let mut resp = problem_response(&Problem::new(StatusCode::TOO_MANY_REQUESTS, detail));
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(v) = poem::http::HeaderValue::from_str(&secs) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Shorthand for a 422 with a message.
pub fn unprocessable(detail: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(Json(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)))
}

/// Shorthand for a 400 with a message.
pub fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, detail)))
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Turns any error that reached the top (framework errors: unknown path, wrong method,
/// unparsable body or parameter, missing key) into problem+json. Responses that already are
/// problems pass through unchanged.
pub async fn from_poem_error(err: poem::Error) -> Response {
    let status = err.status();
    let message = err.to_string();
    let resp = err.into_response();
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return resp;
    }
    let detail = match status {
        StatusCode::UNAUTHORIZED if message == "authorization error" => {
            "send a valid, unrevoked API key in the X-API-Key header".to_string()
        }
        StatusCode::NOT_FOUND => "no such path; the API is described at /docs".to_string(),
        StatusCode::METHOD_NOT_ALLOWED => {
            "this method is not allowed on this path; see /docs".to_string()
        }
        _ => in_plain_words(&message),
    };
    problem_response(&Problem::new(status, detail))
}

/// The framework's parse errors, said in the user's terms with what the request should be.
fn in_plain_words(message: &str) -> String {
    let inner = |m: &str| {
        // `failed to parse "ImportBody": expected ident at line 1 column 2` → the reason.
        let reason = m.rsplit_once(": ").map_or(m, |(_, r)| r);
        shorten(reason.trim().to_string())
    };
    if let Some(rest) = message.strip_prefix("failed to parse path `") {
        let name = rest.split('`').next().unwrap_or("");
        let name = if name.starts_with("param") {
            "id"
        } else {
            name
        };
        return format!(
            "the path's {name} is not valid: ids in paths are whole numbers from 1 (like \
             /sources/1), record ids are text; see /docs"
        );
    }
    if let Some(rest) = message.strip_prefix("failed to parse parameter `") {
        let name = rest.split('`').next().unwrap_or("");
        return match what_it_takes(name) {
            Some(takes) => format!("the query parameter {name} must be {takes}; see /docs"),
            None => format!(
                "the query parameter {name} is not valid ({}); see /docs for what it takes",
                inner(rest)
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("parse request payload error: ") {
        let missing = rest.contains("missing field") || rest.contains("required");
        let hint = if missing {
            "a required field is missing"
        } else {
            "the body is not the JSON this endpoint takes"
        };
        return format!(
            "{hint} ({}); send a JSON object with Content-Type: application/json, as /docs \
             describes (for example {{\"name\": \"portal\"}} to create a source)",
            inner(rest)
        );
    }
    shorten(message.to_string())
}

/// What a query parameter takes, in the user's terms.
fn what_it_takes(name: &str) -> Option<&'static str> {
    Some(match name {
        "limit" => "a whole number from 1 to 1000",
        "days" => "a whole number of days from 0 to 36500",
        "dry_run" | "has_manual_changes" | "include_deleted" => "true or false",
        _ => return None,
    })
}

/// Parse errors quote the input; keep a huge body out of the message.
fn shorten(message: String) -> String {
    const MAX: usize = 400;
    if message.len() <= MAX {
        return message;
    }
    let mut end = MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

pub fn problem_response(problem: &Problem) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type(PROBLEM_JSON)
        .body(serde_json::to_string(problem).unwrap_or_default())
}
