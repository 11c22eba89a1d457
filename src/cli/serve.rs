use super::Ctx;
use crate::config::{ServeConfig, ServeFlags};
use crate::http::{AppState, build_app};
use argh::FromArgs;
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use std::time::Duration;

/// serve the REST API (with OpenAPI docs at /docs); migrates the database on start
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "serve")]
pub struct Args {
    /// address to listen on (default: env SYNC_MANAGER_BIND, else 127.0.0.1:8000)
    #[argh(option)]
    bind: Option<String>,
    /// largest request body in MiB (default: env SYNC_MANAGER_MAX_BODY_MB, else 64)
    #[argh(option)]
    max_body_mb: Option<usize>,
    /// requests a tenant may send per minute, over all its keys (default: env
    /// SYNC_MANAGER_RATE_LIMIT, else no limit)
    #[argh(option)]
    rate_limit: Option<u32>,
    /// wrong keys an address may send per minute before it must wait (default: env
    /// SYNC_MANAGER_AUTH_FAILURES, else 10)
    #[argh(option)]
    auth_failures: Option<u32>,
    /// seconds a request body may pause before the request is refused with 408; the whole
    /// body must come within 10 times that (default: env SYNC_MANAGER_READ_TIMEOUT, else 30)
    #[argh(option)]
    read_timeout: Option<u32>,
    /// memory in MiB for the indexes of recently imported sources, so that importing one
    /// again need not read its records first; a source is kept if it has at most about 5,000
    /// records per MiB (0 keeps none; default: env SYNC_MANAGER_INDEX_CACHE_MB, else 32)
    #[argh(option)]
    index_cache_mb: Option<u32>,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("shutting down: finishing in-flight requests");
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(ServeFlags {
        bind: args.bind,
        max_body_mb: args.max_body_mb,
        rate_limit: args.rate_limit,
        auth_failures: args.auth_failures,
        read_timeout: args.read_timeout,
        index_cache_mb: args.index_cache_mb,
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let bind = config.bind.clone();
    // Listen first: a key printed by a server that then cannot listen is easily lost.
    let acceptor = TcpListener::bind(bind.clone())
        .into_acceptor()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {bind}: {e}; if another server runs there, choose another \
                 address with --bind (e.g. --bind 127.0.0.1:8001) or SYNC_MANAGER_BIND"
            )
        })?;
    let addr = acceptor
        .local_addr()
        .first()
        .map(|a| a.to_string().trim_start_matches("socket://").to_string())
        .unwrap_or(bind);
    let db = ctx.server_db().await?;
    crate::db::checkpoint_in_background(db.clone());
    match super::admin_key(&db).await? {
        super::AdminKey::Generated(key) => outln!(
            "Admin key: {key} (save it now: it is not shown again; `sync-manager admin-key \
             rotate` makes a new one)"
        ),
        super::AdminKey::FromEnv => outln!("Admin key: the one of SYNC_MANAGER_ADMIN_KEY"),
        super::AdminKey::Existing => {}
    }
    let state = AppState {
        max_body_bytes: config.max_body_bytes,
        read_timeout: config.read_timeout,
        indexes: std::sync::Arc::new(crate::service::index_cache::IndexCache::new(
            config.index_cache_bytes,
        )),
        limits: std::sync::Arc::new(crate::http::limits::Limits::new(
            config.auth_failures.max(1),
            Duration::from_secs(60),
            config.rate_limit,
        )),
        ..AppState::new(db)
    };
    crate::scheduler::start(state.db.clone());
    outln!(
        "Serving on http://{addr} (dashboard at http://{addr}/ui, API docs at http://{addr}/docs; data in {})",
        ctx.database_url.describe()
    );
    Server::new_with_acceptor(crate::http::acceptor::ProblemAcceptor(acceptor))
        .run_with_graceful_shutdown(
            build_app(state),
            shutdown_signal(),
            // `docker stop` waits 10 s: requests in flight get 5 of them.
            Some(Duration::from_secs(5)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}
