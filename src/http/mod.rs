//! HTTP: the REST API (poem-openapi) with its OpenAPI document and Swagger UI, built by
//! [`build_app`], which `serve` runs and the tests drive in-process.
pub mod acceptor;
pub mod api;
pub mod assets;
pub mod auth;
pub mod body;
pub mod idempotency;
pub mod limits;
pub mod list_cache;
pub mod openapi;
pub mod paging;
pub mod problem;
pub mod routes;
pub mod strict;
pub mod ui;

use poem::http::{HeaderValue, StatusCode, header};
use poem::middleware::Tracing;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Route, web::Redirect};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Largest request body accepted (413 above it), chunked bodies included.
    pub max_body_bytes: usize,
    /// Property list pages served recently (see `list_cache`).
    pub lists: std::sync::Arc<list_cache::ListCache>,
    /// Where the app is mounted in a bigger one ("" at the root, e.g. "/sync"): the dashboard's
    /// links and redirects start with it.
    pub base_path: String,
    /// Failed authentications per address, requests per tenant (see `limits`).
    pub limits: std::sync::Arc<limits::Limits>,
    /// Longest wait for the next bytes of a request body (408 after it; see `body::timed`).
    pub read_timeout: std::time::Duration,
    /// The import indexes of sources imported recently (see `service::index_cache`).
    pub indexes: std::sync::Arc<crate::service::index_cache::IndexCache>,
}

/// Default request body limit: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = crate::config::DEFAULT_MAX_BODY_MB << 20;

impl AppState {
    pub fn new(db: DatabaseConnection) -> Self {
        AppState {
            db,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            lists: Default::default(),
            base_path: String::new(),
            limits: Default::default(),
            read_timeout: body::DEFAULT_READ_TIMEOUT,
            indexes: Default::default(),
        }
    }
}

/// The whole application: API at the root, `/openapi.json`, Swagger UI at `/docs`.
pub fn build_app(state: AppState) -> impl Endpoint {
    let service = OpenApiService::new(
        api::apis(state.clone()),
        "sync-manager",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Multi-tenant data synchronisation hub: import records into sources, sync them to \
             targets without silently losing manual edits. Authenticate with the `X-API-Key` \
             header. Errors are RFC 9457 problem+json. Lists are top-level JSON arrays: \
             without `limit` every matching item (streamed, so `jq '.[]'` sees them all), with \
             `limit` (1 to 1000) one page and a `Link: <…>; rel=\"next\"` header for the next; \
             `X-Total-Count` on both.",
    );
    // Mounted in a bigger app: the document says where the API is.
    let service = if state.base_path.is_empty() {
        service
    } else {
        service.server(state.base_path.clone())
    };
    let limit = state.max_body_bytes;
    let read_timeout = state.read_timeout;
    let spec = service.spec();
    let routes = std::sync::Arc::new(routes::Routes::from_spec(&spec));
    let document = openapi::document(&spec);
    // Swagger UI shows the completed document too (it inlines the one it is given).
    let docs_html = service.swagger_ui_html().replace(&spec, &document);
    let docs = Route::new().at(
        "/",
        poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone())),
    );
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    let base = state.base_path.clone();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/ui", ui::routes().around(ui::gate))
        .nest("/", service)
        .around(move |ep, req| {
            let home = format!("{base}/ui");
            async move {
                // `/` is the dashboard.
                if req.uri().path() == "/" {
                    return Ok(Redirect::see_other(home).into_response());
                }
                Ok(ep.call(req).await?.into_response())
            }
        })
        .around(idempotency::idempotent)
        .before(move |req| prepare_request(req, limit, read_timeout))
        .catch_all_error(problem::from_poem_error)
        .around(move |ep, req| {
            let routes = routes.clone();
            async move {
                // A wrong method gets the methods the path has (RFC 9110 §15.5.6).
                let path = req.uri().path().to_string();
                let mut resp = ep.call(req).await?.into_response();
                if resp.status() == StatusCode::METHOD_NOT_ALLOWED
                    && let Some(allow) = routes.allow(&path)
                    && let Ok(value) = HeaderValue::from_str(&allow)
                {
                    resp.headers_mut().insert(header::ALLOW, value);
                }
                Ok(resp)
            }
        })
        .with(Tracing)
        .data(state)
}

fn too_large(limit: usize) -> poem::Error {
    poem::Error::from_string(
        problem::too_large_detail(limit),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

fn too_slow(gap: std::time::Duration) -> poem::Error {
    poem::Error::from_string(body::too_slow_detail(gap), StatusCode::REQUEST_TIMEOUT)
}

/// Takes a JSON body sent with curl's default form content type as JSON (what people paste
/// from the docs must work), and enforces the body limit, also on chunked bodies that announce
/// no length.
async fn prepare_request(
    mut req: Request,
    limit: usize,
    read_timeout: std::time::Duration,
) -> poem::Result<Request> {
    // Requests without a body (GETs, mostly) skip the timer and the buffering.
    let length = req.headers().get(header::CONTENT_LENGTH);
    let no_body = length.is_some_and(|v| v.as_bytes() == b"0")
        || (length.is_none()
            && !req.headers().contains_key(header::TRANSFER_ENCODING)
            && matches!(
                *req.method(),
                poem::http::Method::GET | poem::http::Method::HEAD | poem::http::Method::DELETE
            ));
    // An import of nothing: said so, whatever content type came with it.
    let import = req.method() == poem::http::Method::POST && req.uri().path().ends_with("/import");
    if no_body && import {
        return Err(poem::Error::from_string(
            crate::ingest::format::FormatError::Empty.to_string(),
            StatusCode::BAD_REQUEST,
        ));
    }
    if no_body {
        return Ok(req);
    }
    let body = body::timed(req.take_body(), read_timeout);
    req.set_body(body);
    if import && !req.headers().contains_key(header::CONTENT_TYPE) {
        // An import without a content type is read as JSON (its first bytes say which shape).
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // An import reads its body as a stream and enforces the limit itself (`body::BodyReader`).
    let streamed = import;
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    if streamed {
        return Ok(req);
    }
    // Read here, so that a body that is too large or too slow gets its problem, whoever reads it.
    let body = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
            poem::error::ReadBodyError::Io(e) if body::is_too_slow(&e) => too_slow(read_timeout),
            other => poem::Error::from_string(
                format!("could not read the request body: {other}"),
                StatusCode::BAD_REQUEST,
            ),
        })?;
    req.set_body(body);
    Ok(req)
}
