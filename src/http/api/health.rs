use super::ApiTags;
use crate::http::AppState;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

pub struct HealthApi(pub AppState);

/// Whether the service and its database answer.
#[derive(Object)]
struct Health {
    /// `ok` or `degraded`.
    status: String,
    /// Whether a query against the database succeeded.
    database: bool,
    /// The sync-manager version.
    version: String,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// Service and database are up.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Health check
    ///
    /// Needs no API key. Checks that the database answers a query.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> HealthResponse {
        let database = crate::db::ping(&self.0.db).await;
        let body = Health {
            status: if database { "ok" } else { "degraded" }.into(),
            database,
            version: env!("CARGO_PKG_VERSION").into(),
        };
        if database {
            HealthResponse::Ok(Json(body))
        } else {
            HealthResponse::Unavailable(Json(body))
        }
    }
}
