//! The command line: one file per subcommand, each an argh struct plus `run`.
use crate::config::{DatabaseUrl, resolve_database_url};
use argh::FromArgs;
use sea_orm::DatabaseConnection;
use serde::Serialize;

/// Writes command output to stdout. When the reader has gone (`sync-manager … | head`), the
/// process ends at once with status 141, as a program killed by SIGPIPE does, instead of
/// panicking as `println!` does; other write errors end it with status 1 and a message.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: could not write the output: {e}");
        std::process::exit(1);
    }
}

/// `println!` for command output, through [`write_out`].
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod admin_key;
mod cleanup;
mod health;
mod import;
mod init;
mod key;
mod property;
mod run;
mod serve;
mod snapshot;
mod source;
mod sync;
mod target;
mod tenant;
mod warning;

/// sync-manager: import records into sources, sync them to targets without ever silently
/// losing a manual edit, keep every version, and resolve conflicts.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// database URL: sqlite://FILE or postgres://USER@HOST/DB (default: env DATABASE_URL, a
    /// .env file, else sqlite://sync-manager.db in the working directory)
    #[argh(option)]
    pub database_url: Option<String>,

    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Init(init::Args),
    CreateTenant(tenant::CreateArgs),
    Tenants(tenant::ListArgs),
    Key(key::Args),
    AdminKey(admin_key::Args),
    Source(source::Args),
    Target(target::Args),
    Import(import::Args),
    Sync(sync::Args),
    Property(property::Args),
    Snapshot(snapshot::Args),
    Run(run::Args),
    Warning(warning::Args),
    Cleanup(cleanup::Args),
    Serve(serve::Args),
    Health(health::Args),
}

/// The exit status of an import that imported the valid records but rejected others: a cron
/// job notices, and tells it from a failure (1, nothing written).
pub const EXIT_REJECTED: u8 = 3;

/// The exit status of an import or sync run with `--fail-on-warnings` that raised warnings: a
/// cron job notices that someone must decide something.
pub const EXIT_WARNINGS: u8 = 4;

/// A command that did its work but must not exit 0: its status and what to say.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Partial {
    pub code: u8,
    pub message: String,
}

/// What `main` passes for a bare `-` argument (standard input).
pub const STDIN_ARG: &str = "\u{1}stdin";

/// What every command gets: where the database is.
pub struct Ctx {
    pub database_url: DatabaseUrl,
    /// Connections handed out, closed when the command is done.
    opened: std::sync::Mutex<Vec<DatabaseConnection>>,
}

impl Ctx {
    /// Connects and applies pending migrations (a pool for one command).
    pub async fn db(&self) -> anyhow::Result<DatabaseConnection> {
        self.open(crate::db::Use::Command).await
    }

    /// Connects and applies pending migrations (a pool for the server).
    pub async fn server_db(&self) -> anyhow::Result<DatabaseConnection> {
        self.open(crate::db::Use::Serve).await
    }

    async fn open(&self, usage: crate::db::Use) -> anyhow::Result<DatabaseConnection> {
        let db = crate::db::open_for(&self.database_url, usage)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", self.database_url))?;
        // This process starts: runs left behind by processes that died are marked interrupted.
        match crate::service::runs::reap_interrupted(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                "{} marked as failed",
                crate::domain::words::count_of(n, "interrupted run", "interrupted runs")
            ),
            Err(e) => tracing::warn!("could not check for interrupted runs: {e}"),
        }
        self.opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(db.clone());
        Ok(db)
    }

    /// Closes what `db` opened. A SQLite connection that is closed (not just dropped) folds
    /// its write-ahead log into the database file, so each command pays for its own writes
    /// and the next one does not start with a checkpoint.
    async fn close(self) {
        let opened = std::mem::take(&mut *self.opened.lock().unwrap_or_else(|e| e.into_inner()));
        for db in opened {
            if let Err(e) = db.close().await {
                tracing::warn!("closing the database: {e}");
            }
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        if cli.version {
            outln!("sync-manager {}", env!("CARGO_PKG_VERSION"));
            return Ok(());
        }
        anyhow::bail!(
            "name a command, e.g. `sync-manager serve`; `sync-manager --help` lists them"
        );
    };
    let command = match command {
        // Health checks talk to a server, not to the database.
        Command::Health(a) => return health::run(a),
        other => other,
    };
    let database_url =
        resolve_database_url(cli.database_url.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
    let ctx = Ctx {
        database_url,
        opened: Default::default(),
    };
    let result = match command {
        Command::Health(a) => health::run(a),
        Command::Init(a) => init::run(a, &ctx).await,
        Command::CreateTenant(a) => tenant::create(a, &ctx).await,
        Command::Tenants(a) => tenant::list(a, &ctx).await,
        Command::Key(a) => key::run(a, &ctx).await,
        Command::AdminKey(a) => admin_key::run(a, &ctx).await,
        Command::Source(a) => source::run(a, &ctx).await,
        Command::Target(a) => target::run(a, &ctx).await,
        Command::Import(a) => import::run(a, &ctx).await,
        Command::Sync(a) => sync::run(a, &ctx).await,
        Command::Property(a) => property::run(a, &ctx).await,
        Command::Snapshot(a) => snapshot::run(a, &ctx).await,
        Command::Run(a) => run::run(a, &ctx).await,
        Command::Warning(a) => warning::run(a, &ctx).await,
        Command::Cleanup(a) => cleanup::run(a, &ctx).await,
        Command::Serve(a) => serve::run(a, &ctx).await,
    };
    let where_ = ctx.database_url.describe();
    ctx.close().await;
    // Something not found may be in another database than the one meant.
    result.map_err(|e| match e.downcast_ref::<crate::AppError>() {
        Some(crate::AppError::NotFound { what, .. }) => {
            let hint = match *what {
                "tenant" => "; `sync-manager tenants` lists them, `create-tenant NAME` makes one",
                "source" => {
                    "; `sync-manager source list TENANT` lists them, `source create TENANT NAME` \
                     makes one"
                }
                "target" => {
                    "; `sync-manager target list TENANT` lists them, `target create TENANT NAME` \
                     makes one"
                }
                _ => "",
            };
            anyhow::anyhow!("{e}{hint} (in {where_})")
        }
        _ => e,
    })
}

/// What a command run under `--idempotency-key` gives: its outcome, or the outcome of the
/// first run under that key (as JSON), replayed.
pub(crate) enum Keyed<T> {
    Fresh(T),
    Replayed(serde_json::Value),
}

/// Runs `work` under an idempotency key when one is given (see `service::idempotency`): the
/// first run under the key is carried out and its outcome kept; a later run of the same
/// command with the same input gets that outcome back instead of doing it again.
pub(crate) async fn with_key<T: Serialize>(
    db: &DatabaseConnection,
    tenant: crate::ids::TenantId,
    key: Option<String>,
    request: String,
    body_hash: String,
    work: impl std::future::Future<Output = crate::AppResult<T>>,
) -> anyhow::Result<Keyed<T>> {
    use crate::service::idempotency::{self, Answer, Found, Request, Scope};
    let Some(key) = key else {
        return Ok(Keyed::Fresh(work.await?));
    };
    crate::service::scope::get(db, tenant).await?;
    let req = Request {
        scope: Scope::Tenant(tenant),
        key,
        request,
    };
    match idempotency::begin(db, &req).await? {
        Found::Running => anyhow::bail!(
            "a command with this idempotency key is still running; try again when it is done"
        ),
        Found::Unanswered(_) => anyhow::bail!(
            "the command with this idempotency key was carried out, but its process stopped \
             before it could keep the outcome; do not run it again: see `run list`"
        ),
        Found::Answered(row) => {
            if row.request != req.request || row.body_hash.as_deref() != Some(body_hash.as_str()) {
                anyhow::bail!(
                    "this idempotency key was used for another command or input ({}) in the \
                     last {} hours; use a new key",
                    row.request,
                    idempotency::TTL_HOURS
                );
            }
            let outcome = serde_json::from_str(row.response.as_deref().unwrap_or("null"))?;
            Ok(Keyed::Replayed(outcome))
        }
        Found::Claimed(claim) => {
            let result = idempotency::scoped(claim, work).await;
            let body = match &result {
                Ok(outcome) => serde_json::to_string(outcome)?,
                Err(_) => String::new(),
            };
            let answer = Answer {
                status: 0,
                content_type: Some("application/json".into()),
                body,
                body_hash,
            };
            idempotency::finish(db, claim, answer).await?;
            Ok(Keyed::Fresh(result?))
        }
    }
}

/// What became of the admin key when a command opened the database.
pub(crate) enum AdminKey {
    /// A new database: this random key, to be shown once.
    Generated(String),
    /// A new database: the key of `SYNC_MANAGER_ADMIN_KEY` (not shown).
    FromEnv,
    /// The database had one.
    Existing,
}

/// Creates the admin key of a new database: the operator's (`SYNC_MANAGER_ADMIN_KEY`), or a
/// random one to show once.
pub(crate) async fn admin_key(db: &DatabaseConnection) -> anyhow::Result<AdminKey> {
    let given = crate::config::admin_key_from_env();
    match crate::service::keys::ensure_admin_key_with(db, given.as_deref()).await? {
        Some(_) if given.is_some() => Ok(AdminKey::FromEnv),
        Some(key) => Ok(AdminKey::Generated(key.key)),
        None => {
            if let Some(k) = &given
                && crate::service::keys::find_active(db, k).await?.is_none()
            {
                tracing::warn!(
                    "SYNC_MANAGER_ADMIN_KEY is not this database's admin key (one was made before); \
                     it is ignored"
                );
            }
            Ok(AdminKey::Existing)
        }
    }
}

/// Prints `value` as pretty JSON (for `--json`).
pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Parses a JSON argument, saying which argument was wrong.
pub(crate) fn parse_json_arg(what: &str, text: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{what} is not valid JSON: {e}"))
}

/// Formats a timestamp for humans.
pub(crate) fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
