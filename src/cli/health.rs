use argh::FromArgs;
use std::io::{Read, Write};
use std::time::Duration;

/// ask a running server whether it is healthy (exit 0) or not (exit 1): the container's
/// HEALTHCHECK, which has no shell or curl to do it
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "health")]
pub struct Args {
    /// the server's health URL (default: http://127.0.0.1:8000/health)
    #[argh(option, default = "String::from(\"http://127.0.0.1:8000/health\")")]
    url: String,
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
    let (status, body) = get(&args.url)?;
    if status != 200 || !body.contains("\"ok\"") {
        anyhow::bail!(
            "not healthy: {} answered {status} {}",
            args.url,
            body.trim()
        );
    }
    outln!("healthy: {}", body.trim());
    Ok(())
}
