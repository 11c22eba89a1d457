//! Request bodies read as they arrive: the import's parser thread reads a body through a
//! blocking `Read` while a task on the runtime receives it, a few chunks ahead at most, so a
//! body of any size takes bounded memory.
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Chunks received but not yet read.
const AHEAD: usize = 8;

/// A body as a blocking reader, for a thread outside the runtime.
pub struct BodyReader {
    chunks: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    /// Starts receiving `body`; more than `limit` bytes end it with an error and set
    /// `exceeded`.
    pub fn new(body: poem::Body, limit: usize, exceeded: Arc<AtomicBool>) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(body.into_bytes_stream());
            let mut total = 0usize;
            while let Some(chunk) = stream.next().await {
                if let Ok(bytes) = &chunk {
                    total += bytes.len();
                    if total > limit {
                        exceeded.store(true, Ordering::Relaxed);
                        let _ = tx
                            .send(Err(std::io::Error::other(
                                "the request body is larger than the limit",
                            )))
                            .await;
                        return;
                    }
                }
                if tx.send(chunk).await.is_err() {
                    // The reader stopped (a syntax error, say): the rest is not needed.
                    return;
                }
            }
        });
        BodyReader {
            chunks: rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
