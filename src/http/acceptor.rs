//! The connections `serve` accepts. hyper answers a few malformed requests itself, before the
//! application sees them (headers too large → 431, an unparsable request → 400), with an
//! empty body; this wrapper replaces such a bodiless error response by the same status as
//! RFC 9457 problem+json, so that every error of the server has the one documented shape.
use super::problem::{PROBLEM_JSON, Problem};
use poem::http::StatusCode;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use std::io::{IoSlice, Result as IoResult};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An acceptor whose connections answer hyper's own errors as problem+json.
pub struct ProblemAcceptor<A>(pub A);

impl<A: Acceptor> Acceptor for ProblemAcceptor<A> {
    type Io = ProblemIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(&mut self) -> IoResult<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((
            ProblemIo {
                inner: io,
                replacement: None,
            },
            local,
            remote,
            scheme,
        ))
    }
}

/// A connection; see the module documentation.
pub struct ProblemIo<T> {
    inner: T,
    /// A problem response being written instead of hyper's: (bytes, written so far, the
    /// length of hyper's buffer to report once done).
    replacement: Option<(Vec<u8>, usize, usize)>,
}

/// The problem+json response that replaces `head`, if `head` is a whole response head that
/// hyper wrote for a request it refused: an error status, `content-length: 0`, no
/// `content-type` (every response of the application has one).
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    let lower = text.to_ascii_lowercase();
    let whole_head = lower.ends_with("\r\n\r\n") && lower.find("\r\n\r\n") == Some(lower.len() - 4);
    if !(status.is_client_error() || status.is_server_error())
        || !whole_head
        || !lower.contains("\r\ncontent-length: 0\r\n")
        || lower.contains("\r\ncontent-type:")
    {
        return None;
    }
    let detail = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request's headers are too large; send smaller headers (cookies, keys) or fewer \
             of them"
        }
        StatusCode::BAD_REQUEST => "the request is not valid HTTP/1.1",
        _ => "the server refused the request",
    };
    let body = serde_json::to_string(&Problem::new(status, detail)).ok()?;
    Some(
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    /// Writes the pending replacement; `Ready(len)` once all of it is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<IoResult<usize>> {
        let Some((bytes, written, report)) = &mut self.replacement else {
            return Poll::Ready(Ok(0));
        };
        while *written < bytes.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let report = *report;
        self.replacement = None;
        Poll::Ready(Ok(report))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<IoResult<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<IoResult<usize>> {
        if self.replacement.is_none()
            && let Some(bytes) = replacement_for(buf)
        {
            self.replacement = Some((bytes, 0, buf.len()));
        }
        if self.replacement.is_some() {
            return self.poll_replacement(cx);
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<IoResult<usize>> {
        if self.replacement.is_none()
            && bufs.len() == 1
            && let Some(bytes) = replacement_for(&bufs[0])
        {
            self.replacement = Some((bytes, 0, bufs[0].len()));
        }
        if self.replacement.is_some() {
            return self.poll_replacement(cx);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<IoResult<()>> {
        if self.replacement.is_some() {
            match self.poll_replacement(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<IoResult<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_bodiless_errors_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                      content-length: 0\r\ndate: Wed, 02 Dec 2026 13:47:07 GMT\r\n\r\n";
        let out = String::from_utf8(replacement_for(hyper).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
        for other in [
            // The application's own responses carry a content type.
            &b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 431 x\r\ncontent-length: 0\r\n\r\n{\"a\":1}",
            b"[{\"id\":\"HTTP/1.1 431\"}]",
        ] {
            assert!(replacement_for(other).is_none(), "{other:?}");
        }
    }
}
