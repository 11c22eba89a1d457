//! Request bodies read as they arrive: the import's parser thread reads a body through a
//! blocking `Read` while a task on the runtime receives it, a few chunks ahead at most, so a
//! body of any size takes bounded memory.
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Blocks received but not yet read.
const AHEAD: usize = 8;
/// The network's chunks are gathered into blocks of this size before they are handed over:
/// one hand-over per block instead of one per (small) chunk keeps the two threads from
/// waking each other thousands of times per body.
const BLOCK: usize = 1 << 20;

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
            let mut block = bytes::BytesMut::new();
            while let Some(chunk) = stream.next().await {
                let bytes = match chunk {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
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
                if block.is_empty() && bytes.len() >= BLOCK {
                    if tx.send(Ok(bytes)).await.is_err() {
                        return;
                    }
                    continue;
                }
                block.extend_from_slice(&bytes);
                if block.len() >= BLOCK && tx.send(Ok(block.split().freeze())).await.is_err() {
                    // The reader stopped (a syntax error, say): the rest is not needed.
                    return;
                }
            }
            if !block.is_empty() {
                let _ = tx.send(Ok(block.freeze())).await;
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
