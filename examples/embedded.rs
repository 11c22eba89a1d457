//! sync-manager inside your own Rust service, both ways:
//!
//! * **mounted**: its dashboard, REST API and OpenAPI docs under a prefix of your poem app
//!   (`/sync` here), every link and redirect staying under it;
//! * **called**: the same use cases as plain async functions (open the database, migrate,
//!   import, sync), e.g. from your own scheduler.
//!
//! ```sh
//! cargo run --example embedded      # serves http://127.0.0.1:8080 (/sync/ui, /sync/docs)
//! ```
use poem::listener::TcpListener;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Route, Server, handler};
use serde_json::json;
use sync_manager::config::DatabaseUrl;
use sync_manager::http::{AppState, build_app};
use sync_manager::ids::{SourceId, TargetId, TenantId};
use sync_manager::service::endpoints::NewEndpoint;
use sync_manager::service::imports::{self, ImportInput, ImportOptions};
use sync_manager::service::sync::{self, SyncOptions};
use sync_manager::service::{Actor, sources, targets, tenants};
use sync_manager::{AppResult, db};

/// Your own page, beside sync-manager's.
#[handler]
fn home() -> Html<&'static str> {
    Html(r#"<p>My agency's back office. <a href="/sync/ui">Listings sync</a></p>"#)
}

/// Your app, with sync-manager mounted under `/sync`.
pub fn app(database: sea_orm::DatabaseConnection) -> impl Endpoint {
    let state = AppState {
        base_path: "/sync".into(),
        ..AppState::new(database)
    };
    Route::new()
        .at("/", home)
        .nest("/sync", build_app(state))
        .map_to_response()
}

/// What a nightly job of yours does, calling the services directly: a tenant, a source and a
/// target (made once), today's listings imported and synced. Returns the tenant and its key.
pub async fn nightly(database: &sea_orm::DatabaseConnection) -> AppResult<(TenantId, String)> {
    let (tenant, key) = tenants::create(database, "My Agency", None).await?;
    let tenant = TenantId(tenant.id);
    let endpoint = |name: &str, kind: &str| NewEndpoint {
        name: name.into(),
        kind: kind.into(),
        config: None,
    };
    let source = sources::create(database, tenant, endpoint("portal", "scraped")).await?;
    let target = targets::create(database, tenant, endpoint("website", "website")).await?;
    let listings = vec![
        json!({"id": "PROP001", "title": "Villa in Marbella", "price": 950000}),
        json!({"id": "PROP002", "title": "Flat in Málaga", "price": 250000}),
    ];
    let actor = Actor("nightly job".into());
    let imported = imports::import(
        database,
        tenant,
        SourceId(source.id),
        ImportInput::Records(listings),
        ImportOptions::default(),
        &actor,
        None,
    )
    .await?;
    let synced = sync::sync(
        database,
        tenant,
        SourceId(source.id),
        TargetId(target.id),
        SyncOptions::default(),
        &actor,
    )
    .await?;
    println!(
        "imported {} new, synced {} new, {} warning(s)",
        imported.stats.created, synced.stats.created, synced.stats.warnings
    );
    Ok((tenant, key.key))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://embedded-example.db?mode=rwc".into());
    let url = DatabaseUrl::parse(&url).map_err(|e| anyhow::anyhow!(e))?;
    // Connects and applies sync-manager's migrations (idempotent).
    let database = db::open(&url).await?;
    let (_, key) = nightly(&database).await?;
    println!("tenant key: {key}");
    println!("serving http://127.0.0.1:8080 (sync-manager at /sync/ui and /sync/docs)");
    Server::new(TcpListener::bind("127.0.0.1:8080"))
        .run(app(database))
        .await?;
    Ok(())
}
