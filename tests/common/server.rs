//! The real `sync-manager serve` on a free port of 127.0.0.1, stopped when dropped.
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// The admin key it printed (on a new database).
    pub admin_key: Option<String>,
}

impl Server {
    /// Starts `serve` on `database_url` with extra environment variables.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Server {
        Self::spawn(database_url, env, None)
    }

    /// `start`, with what the server logs written to `log`.
    pub fn start_logging(
        database_url: &str,
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Server {
        Self::spawn(database_url, env, Some(log))
    }

    fn spawn(database_url: &str, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sync-manager"));
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env_remove("SYNC_MANAGER_LOG")
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
                None => Stdio::null(),
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut admin_key = None;
        let base = loop {
            let line = lines
                .next()
                .expect("serve printed its URL")
                .expect("serve's output");
            if let Some(rest) = line.strip_prefix("Admin key: ") {
                admin_key = rest.split_whitespace().next().map(str::to_string);
            }
            if let Some(rest) = line.strip_prefix("Serving on ") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep reading what it prints so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let addr = base.trim_start_matches("http://").to_string();
        Server {
            child,
            base,
            addr,
            admin_key,
        }
    }

    /// Sends `request` as it is over a new connection; the whole response.
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        // The server may answer (and close) before it read everything.
        let _ = stream.write_all(request);
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).to_string()
    }
}

impl Server {
    /// Creates a tenant with the admin key and returns its API key.
    #[allow(dead_code)]
    pub fn tenant_key(&self, name: &str) -> String {
        let admin = self
            .admin_key
            .clone()
            .expect("a new database prints the admin key");
        let (status, tenant) = self.api(
            "POST",
            "/admin/tenants",
            &admin,
            Some(&serde_json::json!({ "name": name })),
        );
        assert_eq!(status, 201, "{tenant}");
        tenant["api_key"].as_str().unwrap().to_string()
    }

    /// A request to the API with `key`: (status, JSON body).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-API-Key: {key}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let response = self.raw(request.as_bytes());
        let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        // A chunked body: the JSON is between the chunk sizes.
        let text = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = rest;
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 || tail.len() < n {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = tail[n..].trim_start_matches("\r\n");
            }
            out
        } else {
            rest.to_string()
        };
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
