use argh::FromArgs;
use std::io::{Read, Write};
use std::time::Duration;

/// ask a running server whether it is healthy (exit 0) or not (exit 1): the container's
/// HEALTHCHECK, which has no shell or curl to do it
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "health")]
pub struct Args {
    /// the server's address, as its base URL (http://127.0.0.1:8000) or its health URL
    /// (default: where `serve` listens: env SYNC_MANAGER_BIND, else 127.0.0.1:8000)
    #[argh(option)]
    url: Option<String>,
}

/// The health URL to ask: `url` as given, with `/health` added to a base URL; without one,
/// where `serve` listens (`bind`; a server listening on every address is asked on loopback).
fn health_url(url: Option<&str>, bind: Option<&str>) -> String {
    let base = match url {
        Some(url) => url.trim().to_string(),
        None => {
            let bind = bind.unwrap_or("127.0.0.1:8000").trim();
            let bind = if let Some(port) = bind.strip_prefix("0.0.0.0:") {
                format!("127.0.0.1:{port}")
            } else if let Some(port) = bind.strip_prefix("[::]:") {
                format!("[::1]:{port}")
            } else {
                bind.to_string()
            };
            format!("http://{bind}")
        }
    };
    let path_start = base
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/'))
        .map(|i| i + "http://".len());
    let path = path_start.map_or("", |i| &base[i..]);
    if path.trim_end_matches('/').ends_with("/health") {
        base
    } else {
        format!("{}/health", base.trim_end_matches('/'))
    }
}

/// `GET url` over plain HTTP/1.1; the status code and the body.
fn get(url: &str) -> anyhow::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        anyhow::anyhow!("the URL must start with http:// (the check runs next to the server)")
    })?;
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let timeout = Duration::from_secs(3);
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.take(64 * 1024).read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{url} did not answer HTTP"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let url = health_url(
        args.url.as_deref(),
        crate::config::bind_from_env().as_deref(),
    );
    let (status, body) = get(&url)?;
    if status != 200 || !body.contains("\"ok\"") {
        anyhow::bail!("not healthy: {url} answered {status} {}", body.trim());
    }
    outln!("healthy: {}", body.trim());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::health_url;

    #[test]
    fn the_health_url_of_a_base_url_a_bind_address_or_nothing() {
        let cases = [
            (
                Some("http://127.0.0.1:8000"),
                None,
                "http://127.0.0.1:8000/health",
            ),
            (
                Some("http://127.0.0.1:8000/"),
                None,
                "http://127.0.0.1:8000/health",
            ),
            (Some("http://h:1/health"), None, "http://h:1/health"),
            (Some("http://h:1/sync"), None, "http://h:1/sync/health"),
            (None, None, "http://127.0.0.1:8000/health"),
            (None, Some("0.0.0.0:9000"), "http://127.0.0.1:9000/health"),
            (None, Some("[::]:9000"), "http://[::1]:9000/health"),
            (None, Some("10.0.0.5:8080"), "http://10.0.0.5:8080/health"),
            (
                Some("http://a:1"),
                Some("0.0.0.0:9000"),
                "http://a:1/health",
            ),
        ];
        for (url, bind, want) in cases {
            assert_eq!(health_url(url, bind), want, "{url:?} {bind:?}");
        }
    }
}
