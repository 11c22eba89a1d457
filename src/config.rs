//! Configuration: defaults, then `.env`, then environment variables, then flags.
use std::fmt;
use std::time::Duration;

/// Where the database lives when nothing else is said.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://sync-manager.db?mode=rwc";

/// A database URL whose password never appears in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts `sqlite://…`, `postgres://…`/`postgresql://…`, or a bare file path (taken as an
    /// SQLite file, created on demand).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the database URL is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl(raw.to_string()));
        }
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            if rest.contains("memory") || rest.contains("mode=") {
                return Ok(DatabaseUrl(raw.to_string()));
            }
            let sep = if rest.contains('?') { '&' } else { '?' };
            return Ok(DatabaseUrl(format!("{raw}{sep}mode=rwc")));
        }
        if raw.contains("://") {
            return Err(format!(
                "unsupported database URL scheme in {:?}: use sqlite://FILE or postgres://…",
                redact(raw)
            ));
        }
        Ok(DatabaseUrl(format!("sqlite://{raw}?mode=rwc")))
    }

    /// The URL to connect with (contains the password, if any).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres")
    }

    /// Where the data is, for people: an SQLite database as its absolute file path (a relative
    /// one depends on the working directory, so a command run elsewhere opens another file),
    /// PostgreSQL as its URL without the password.
    pub fn describe(&self) -> String {
        let Some(rest) = self.0.strip_prefix("sqlite:") else {
            return redact(&self.0);
        };
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.contains(":memory:") || self.0.contains("mode=memory") {
            return "an in-memory SQLite database".into();
        }
        let path = std::path::Path::new(path);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(path)
        };
        format!("the SQLite file {}", absolute.display())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", redact(&self.0))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// Resolves the database URL: the flag, else `DATABASE_URL` (from the environment or a `.env`
/// file in the working directory), else [`DEFAULT_DATABASE_URL`].
pub fn resolve_database_url(flag: Option<&str>) -> Result<DatabaseUrl, String> {
    let _ = dotenvy::dotenv();
    match flag {
        Some(url) => DatabaseUrl::parse(url),
        None => match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => DatabaseUrl::parse(&url),
            _ => DatabaseUrl::parse(DEFAULT_DATABASE_URL),
        },
    }
}

/// An environment variable that is set and not blank. The one place the program reads its
/// environment (the log filter aside, read by `main` before anything else).
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where `serve` listens when `--bind` is not given: env `SYNC_MANAGER_BIND`, if set.
pub fn bind_from_env() -> Option<String> {
    var("SYNC_MANAGER_BIND")
}

/// The admin key an operator chose for a new database (`SYNC_MANAGER_ADMIN_KEY`).
pub fn admin_key_from_env() -> Option<String> {
    var("SYNC_MANAGER_ADMIN_KEY")
}

/// The largest request body by default, in MiB.
pub const DEFAULT_MAX_BODY_MB: usize = 64;
/// Wrong keys an address may send per minute by default.
pub const DEFAULT_AUTH_FAILURES: u32 = 10;
/// How long a request body may pause by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Memory for the kept import indexes by default, in MiB.
pub const DEFAULT_INDEX_CACHE_MB: usize = 32;

/// What `serve`'s flags say (each `None` when not given).
#[derive(Debug, Clone, Default)]
pub struct ServeFlags {
    pub bind: Option<String>,
    pub max_body_mb: Option<usize>,
    pub rate_limit: Option<u32>,
    pub auth_failures: Option<u32>,
    pub read_timeout: Option<u32>,
    pub index_cache_mb: Option<u32>,
}

/// How `serve` runs: each setting from its flag, else its environment variable, else its
/// default.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: String,
    pub max_body_bytes: usize,
    /// Requests a tenant may send per minute (`None`: no limit).
    pub rate_limit: Option<u32>,
    pub auth_failures: u32,
    pub read_timeout: Duration,
    pub index_cache_bytes: usize,
}

/// A whole number from a flag, else from an environment variable.
fn number(flag: Option<u32>, name: &str) -> Result<Option<u32>, String> {
    if flag.is_some() {
        return Ok(flag);
    }
    match var(name) {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} must be a whole number, got {v:?}")),
        None => Ok(None),
    }
}

impl ServeConfig {
    /// The settings of `serve` given `flags`, or what is wrong with them.
    pub fn resolve(flags: ServeFlags) -> Result<ServeConfig, String> {
        let bind = flags
            .bind
            .or_else(bind_from_env)
            .unwrap_or_else(|| "127.0.0.1:8000".to_string());
        let max_body_mb = match flags.max_body_mb {
            Some(mb) => mb,
            None => match std::env::var("SYNC_MANAGER_MAX_BODY_MB") {
                Ok(v) => v.trim().parse().map_err(|_| {
                    format!("SYNC_MANAGER_MAX_BODY_MB must be a whole number of MiB, got {v:?}")
                })?,
                Err(_) => DEFAULT_MAX_BODY_MB,
            },
        };
        if max_body_mb == 0 {
            return Err("the body limit must be at least 1 MiB".into());
        }
        let rate_limit = number(flags.rate_limit, "SYNC_MANAGER_RATE_LIMIT")?.filter(|n| *n > 0);
        let auth_failures = number(flags.auth_failures, "SYNC_MANAGER_AUTH_FAILURES")?
            .unwrap_or(DEFAULT_AUTH_FAILURES);
        let read_timeout = match number(flags.read_timeout, "SYNC_MANAGER_READ_TIMEOUT")? {
            Some(0) => return Err("the read timeout must be at least 1 second".into()),
            Some(secs) => Duration::from_secs(secs.into()),
            None => DEFAULT_READ_TIMEOUT,
        };
        let index_cache_bytes = match number(flags.index_cache_mb, "SYNC_MANAGER_INDEX_CACHE_MB")? {
            Some(mb) => (mb as usize) << 20,
            None => DEFAULT_INDEX_CACHE_MB << 20,
        };
        Ok(ServeConfig {
            bind,
            max_body_bytes: max_body_mb << 20,
            rate_limit,
            auth_failures,
            read_timeout,
            index_cache_bytes,
        })
    }
}

/// Internal sizes, read once (the tests shrink them so that every paged read spans several
/// pages and imports go on past the input held while an index loads).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Rows per aggregated page (`SYNC_MANAGER_PAGE_ROWS`); `None`: each backend's own.
    pub page_rows: Option<usize>,
    /// Elements an import holds while it reads the source's index
    /// (`SYNC_MANAGER_HOLD_ELEMENTS`, default 524,288).
    pub hold_elements: usize,
}

/// The tuning of this process.
pub fn tuning() -> Tuning {
    static TUNING: std::sync::LazyLock<Tuning> = std::sync::LazyLock::new(|| {
        let positive = |name: &str| {
            var(name)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n > 0)
        };
        Tuning {
            page_rows: positive("SYNC_MANAGER_PAGE_ROWS"),
            hold_elements: positive("SYNC_MANAGER_HOLD_ELEMENTS").unwrap_or(1 << 19),
        }
    });
    *TUNING
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_urls() {
        assert_eq!(
            DatabaseUrl::parse("data.db").unwrap().expose(),
            "sqlite://data.db?mode=rwc"
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db").unwrap().expose(),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            DatabaseUrl::parse(DEFAULT_DATABASE_URL).unwrap().expose(),
            DEFAULT_DATABASE_URL
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert!(
            DatabaseUrl::parse("postgres://u@h/db")
                .unwrap()
                .is_postgres()
        );
    }

    #[test]
    fn descriptions_say_where_the_data_is() {
        let abs = DatabaseUrl::parse("sqlite:///data/sync-manager.db").unwrap();
        assert_eq!(abs.describe(), "the SQLite file /data/sync-manager.db");
        let rel = DatabaseUrl::parse("sync-manager.db").unwrap().describe();
        assert!(
            rel.starts_with("the SQLite file /") && rel.ends_with("/sync-manager.db"),
            "{rel}"
        );
        let pg = DatabaseUrl::parse("postgres://u:secret@h/db")
            .unwrap()
            .describe();
        assert_eq!(pg, "postgres://u:***@h/db");
    }

    #[test]
    fn password_is_redacted() {
        let url = DatabaseUrl::parse("postgres://bob:secret@db:5432/app").unwrap();
        assert_eq!(
            format!("{url:?}"),
            "DatabaseUrl(postgres://bob:***@db:5432/app)"
        );
        assert_eq!(url.to_string(), "postgres://bob:***@db:5432/app");
        assert!(url.expose().contains("secret"));
    }
}
