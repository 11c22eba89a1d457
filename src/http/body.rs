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
    blocks: mpsc::Receiver<std::io::Result<Vec<Bytes>>>,
    /// The chunks of the block being read, the first one partly read maybe.
    current: std::collections::VecDeque<Bytes>,
}

impl BodyReader {
    /// Starts receiving `body`; more than `limit` bytes end it with an error and set
    /// `exceeded`.
    pub fn new(body: poem::Body, limit: usize, exceeded: Arc<AtomicBool>) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(body.into_bytes_stream());
            let mut total = 0usize;
            // The network's chunks, handed over a block at a time (not copied together).
            let (mut block, mut size) = (Vec::new(), 0usize);
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
                size += bytes.len();
                block.push(bytes);
                if size >= BLOCK {
                    size = 0;
                    if tx.send(Ok(std::mem::take(&mut block))).await.is_err() {
                        // The reader stopped (a syntax error, say): the rest is not needed.
                        return;
                    }
                }
            }
            if !block.is_empty() {
                let _ = tx.send(Ok(block)).await;
            }
        });
        BodyReader {
            blocks: rx,
            current: Default::default(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.current.front_mut() {
                Some(chunk) if chunk.is_empty() => {
                    self.current.pop_front();
                }
                Some(chunk) => {
                    let n = buf.len().min(chunk.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    chunk.advance(n);
                    return Ok(n);
                }
                None => match self.blocks.blocking_recv() {
                    Some(Ok(block)) => self.current.extend(block),
                    Some(Err(e)) => return Err(e),
                    None => return Ok(0),
                },
            }
        }
    }
}
