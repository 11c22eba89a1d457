//! What the parser holds while the writer reads the source's index: the elements read so far
//! (their bytes, or for a file only where they are), passed on once the index is known.
use super::item::{ChunkSender, Recognizer, parse_raw, pass_on};
use super::json_stream::{self, StreamError};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the bytes read, for progress.
pub struct CountingReader<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One element held while the writer reads the source's index.
pub struct HeldElement {
    /// Where its bytes are: in `Held::bytes`, or in the file.
    offset: u64,
    len: usize,
    raw_hash: [u8; 32],
    at: json_stream::Position,
}

/// Elements read (and raw-hashed) before the writer has read the source's index: their bytes,
/// or for a file only where they are (read again if they have to be parsed, which unchanged
/// records never are).
pub struct Held<'f> {
    /// The file, and where in it the reading began.
    file: Option<(&'f std::fs::File, u64)>,
    bytes: Vec<u8>,
    elements: Vec<HeldElement>,
    /// Elements held at most (the CLI tests hold two, so that imports go on past the limit
    /// while the index loads).
    hold_elements: usize,
}

/// How much input may be held while the source's index loads: bytes of an input that cannot be
/// read twice, and elements (see `hold_elements`).
const HOLD_BYTES: usize = 64 << 20;

/// Bytes read at once when held elements of a file are read again.
const REREAD_WINDOW: usize = 1 << 20;

impl<'f> Held<'f> {
    pub fn new(file: Option<(&'f std::fs::File, u64)>, hold_elements: usize) -> Self {
        Held {
            file,
            // Reserved whole (address space only: pages are touched as bytes come), so the
            // held input is never copied to a bigger buffer as it grows.
            bytes: if file.is_some() {
                Vec::new()
            } else {
                Vec::with_capacity(HOLD_BYTES)
            },
            elements: Vec::new(),
            hold_elements,
        }
    }

    /// Holds one element; false once no more should be held.
    pub fn hold(&mut self, raw: &[u8], place: json_stream::Place, raw_hash: [u8; 32]) -> bool {
        let offset = match self.file {
            Some((_, start)) => start + place.offset,
            None => {
                let from = self.bytes.len();
                self.bytes.extend_from_slice(raw);
                from as u64
            }
        };
        self.elements.push(HeldElement {
            offset,
            len: raw.len(),
            raw_hash,
            at: place.at,
        });
        self.elements.len() < self.hold_elements && self.bytes.len() < HOLD_BYTES
    }

    /// Passes on everything held; false once the receiver is gone.
    pub fn release(
        &mut self,
        sender: &mut ChunkSender,
        known: &mut Option<Recognizer>,
    ) -> Result<bool, StreamError> {
        let mut window = Window::default();
        for e in std::mem::take(&mut self.elements) {
            if !pass_on(sender, known, e.raw_hash, e.at, || {
                self.bytes_of(&e, &mut window)
            })? {
                return Ok(false);
            }
        }
        self.bytes = Vec::new();
        Ok(true)
    }

    /// The bytes of a held element, read again from the file if need be (and checked against
    /// the hash taken at the first reading).
    pub fn bytes_of<'w>(
        &'w self,
        e: &HeldElement,
        window: &'w mut Window,
    ) -> Result<&'w [u8], StreamError> {
        let Some((file, _)) = self.file else {
            let from = e.offset as usize;
            return Ok(&self.bytes[from..from + e.len]);
        };
        let raw = window
            .read(file, e.offset, e.len)
            .map_err(StreamError::Io)?;
        if <[u8; 32]>::from(Sha256::digest(raw)) != e.raw_hash {
            return Err(StreamError::Io(file_changed()));
        }
        Ok(raw)
    }

    /// The first syntax error in an element held.
    pub fn first_error(&self) -> Option<StreamError> {
        let mut window = Window::default();
        self.elements.iter().find_map(|e| {
            self.bytes_of(e, &mut window)
                .and_then(|raw| parse_raw(raw, e.at).map(|_| ()))
                .err()
        })
    }
}

pub fn file_changed() -> std::io::Error {
    std::io::Error::other("the file changed while it was being imported")
}

/// A window of a file read at an offset, for reading held elements again in order.
#[derive(Default)]
pub struct Window {
    start: u64,
    buf: Vec<u8>,
    /// How much of `buf` holds bytes of the file.
    filled: usize,
}

impl Window {
    pub fn read(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> std::io::Result<&[u8]> {
        use std::os::unix::fs::FileExt;
        let inside = offset >= self.start && offset + len as u64 <= self.start + self.filled as u64;
        if !inside {
            if self.buf.len() < len.max(REREAD_WINDOW) {
                self.buf.resize(len.max(REREAD_WINDOW), 0);
            }
            self.start = offset;
            self.filled = 0;
            while self.filled < self.buf.len() {
                match file.read_at(&mut self.buf[self.filled..], offset + self.filled as u64) {
                    Ok(0) => break,
                    Ok(n) => self.filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if self.filled < len {
                return Err(file_changed());
            }
        }
        let from = (offset - self.start) as usize;
        Ok(&self.buf[from..from + len])
    }
}
