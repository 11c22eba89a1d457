//! Request bodies read as they arrive: the import's parser thread reads a body through a
//! blocking `Read` while a task on the runtime receives it, a few chunks ahead at most, so a
//! body of any size takes bounded memory.
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Default longest wait for the next bytes of a request body (`serve --read-timeout`).
pub const DEFAULT_READ_TIMEOUT: Duration = crate::config::DEFAULT_READ_TIMEOUT;
/// A whole body must arrive within this many read timeouts.
pub const WHOLE_BODY_TIMEOUTS: u32 = 10;

/// What ended a body early; the handler answers 413 or 408 for it.
#[derive(Debug, Default)]
pub struct BodyFault {
    pub too_large: AtomicBool,
    pub too_slow: AtomicBool,
}

/// The message of a body that came too slowly.
pub fn too_slow_detail(gap: Duration) -> String {
    format!(
        "the request body came too slowly: no bytes for {} s, or not all of it within {} s; \
         send it at once (the limits are `serve --read-timeout`)",
        gap.as_secs(),
        gap.as_secs() * u64::from(WHOLE_BODY_TIMEOUTS)
    )
}

/// Whether `e` is the error of a body that came too slowly (see [`timed`]).
pub fn is_too_slow(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
}

/// `body`, ended with a `TimedOut` error when no bytes come for `gap` or the whole of it has
/// not come within `WHOLE_BODY_TIMEOUTS` gaps: a client that dribbles its body does not hold
/// a connection (and, for an import, a transaction) for ever.
pub fn timed(body: poem::Body, gap: Duration) -> poem::Body {
    let end = Instant::now() + gap * WHOLE_BODY_TIMEOUTS;
    let stream = futures_util::stream::unfold(
        (Box::pin(body.into_bytes_stream()), false),
        move |(mut stream, done)| async move {
            if done {
                return None;
            }
            let deadline = (Instant::now() + gap).min(end);
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(item)) => Some((item, (stream, false))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        too_slow_detail(gap),
                    )),
                    (stream, true),
                )),
            }
        },
    );
    poem::Body::from_bytes_stream(stream)
}

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
    /// Starts receiving `body`; more than `limit` bytes, or a body that comes too slowly
    /// (see [`timed`]), end it with an error and are noted in `fault`.
    pub fn new(body: poem::Body, limit: usize, fault: Arc<BodyFault>) -> Self {
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
                        if is_too_slow(&e) {
                            fault.too_slow.store(true, Ordering::Relaxed);
                        }
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                total += bytes.len();
                if total > limit {
                    fault.too_large.store(true, Ordering::Relaxed);
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
