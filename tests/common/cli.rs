//! The real `sync-manager` binary in a temporary directory, on SQLite or PostgreSQL.
use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

/// One test's working directory and database.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub url: String,
    _db: Option<super::TestDb>,
}

impl Env {
    pub async fn new(backend: &str) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        if backend == "sqlite" {
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
            return Some(Env {
                dir,
                url,
                _db: None,
            });
        }
        let db = super::TestDb::new("postgres").await?;
        Some(Env {
            dir,
            url: db.url.clone(),
            _db: Some(db),
        })
    }

    /// The binary with this environment's database and the default settings.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("sync-manager"));
        cmd.current_dir(self.dir.path())
            .env("DATABASE_URL", &self.url)
            .env_remove("SYNC_MANAGER_LOG")
            .args(args);
        cmd
    }

    /// The binary with settings that make every code path short: tiny pages, so that every
    /// paged read (import index, sync candidates) spans several, and imports go on past the
    /// input held while the index loads.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::from_std(self.std_cmd(args));
        cmd.env("SYNC_MANAGER_PAGE_ROWS", "2")
            .env("SYNC_MANAGER_HOLD_ELEMENTS", "2");
        cmd
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?} failed: {stderr}\n{stdout}");
        stdout
    }

    /// Runs a command that must exit with `code`; returns stdout and stderr.
    pub fn exits(&self, code: i32, args: &[&str]) -> (String, String) {
        let out = self.cmd(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {stderr}\n{stdout}"
        );
        (stdout, stderr)
    }

    /// Runs a command that must fail; returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success(),
            "{args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.starts_with("error: ") || stderr.starts_with("Error parsing"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    pub fn write(&self, name: &str, records: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(records).unwrap()).unwrap();
        path
    }

    /// init + tenant + source + target; returns (tenant, source, target) ids as strings.
    pub fn setup(&self, target_config: &str) -> (String, String, String) {
        let init = self.ok(&["init"]);
        assert!(init.contains("Admin key: sma_"), "{init}");
        assert!(
            self.ok(&["init"]).contains("already exists"),
            "init is idempotent"
        );
        let tenant = self.json(&["create-tenant", "My Agency"]);
        assert!(tenant["api_key"].as_str().unwrap().starts_with("sm_"));
        let t = tenant["tenant"]["id"].to_string();
        let s =
            self.json(&["source", "create", &t, "portal", "--type", "scraped"])["id"].to_string();
        let g = self.json(&["target", "create", &t, "website", "--config", target_config])["id"]
            .to_string();
        (t, s, g)
    }
}
