//! HTTP: the REST API (poem-openapi) with its OpenAPI document and Swagger UI, built by
//! [`build_app`], which `serve` runs and the tests drive in-process.
pub mod api;
pub mod auth;
pub mod problem;

use poem::http::{HeaderValue, header};
use poem::middleware::Tracing;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Route, web::Redirect};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
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
             header. Errors are RFC 9457 problem+json. Lists are top-level JSON arrays.",
    );
    let spec = service.spec_endpoint();
    let docs = service.swagger_ui();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", service)
        .around(|ep, req| async move {
            // `/` points at the API documentation until the dashboard exists.
            if req.uri().path() == "/" {
                return Ok(Redirect::see_other("/docs").into_response());
            }
            Ok(ep.call(req).await?.into_response())
        })
        .before(json_for_form_bodies)
        .catch_all_error(problem::from_poem_error)
        .with(Tracing)
        .data(state)
}

/// A JSON body sent with curl's default form content type is taken as JSON: what people paste
/// from the docs must work.
async fn json_for_form_bodies(mut req: Request) -> poem::Result<Request> {
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
    Ok(req)
}
