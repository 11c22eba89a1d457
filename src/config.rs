//! Configuration: defaults, then `.env`, then environment variables, then flags.
use std::fmt;

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

/// Where `serve` listens when `--bind` is not given: env `SYNC_MANAGER_BIND`, if set.
pub fn bind_from_env() -> Option<String> {
    std::env::var("SYNC_MANAGER_BIND")
        .ok()
        .filter(|b| !b.trim().is_empty())
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
