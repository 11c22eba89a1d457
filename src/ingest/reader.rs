//! The parser's thread: reads the input (whatever its shape), scans it element by element,
//! holds what it read until the writer knows the source's records, and passes records on to
//! the writer in chunks, byte-identical ones unparsed.
use super::ImportInput;
use super::held::{CountingReader, Held};
use super::item::{ChunkSender, Known, Message, Recognizer, pass_on};
use super::json_stream::{self, Envelope, Flow, Shape, StreamError};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::sync::mpsc;

/// Parsed chunks that may wait for the writer (while it reads the source's index).
const PARSE_BACKLOG: usize = 8;

/// The parser, running on its own thread.
pub struct Parser {
    /// What it parsed, chunk by chunk.
    pub messages: mpsc::Receiver<Message>,
    /// Where the writer sends what it knows of the source's records, once it read them.
    pub known: std::sync::mpsc::SyncSender<Known>,
    /// Bytes read so far, for progress.
    pub bytes: Arc<AtomicU64>,
    pub thread: std::thread::JoinHandle<()>,
}

/// Starts the parser of `input` on a thread of its own (`hold_elements`: elements it holds at
/// most while the writer reads the source's index).
pub fn spawn(input: ImportInput, hold_elements: usize) -> std::io::Result<Parser> {
    let (chan_tx, messages) = mpsc::channel::<Message>(PARSE_BACKLOG);
    let (known, known_rx) = std::sync::mpsc::sync_channel::<Known>(1);
    let bytes = Arc::new(AtomicU64::new(0));
    let producer_bytes = bytes.clone();
    let thread = std::thread::Builder::new()
        .name("import-parser".into())
        .spawn(move || produce(input, known_rx, chan_tx, producer_bytes, hold_elements))?;
    Ok(Parser {
        messages,
        known,
        bytes,
        thread,
    })
}

/// Runs on its own thread: parses, canonicalises and hashes, sending chunks to the writer.
/// Until the writer has read the source's index and sent over what it `known`s, elements are
/// only scanned and raw-hashed, and held; after that, records byte-identical to a live one are
/// passed on unparsed.
fn produce(
    input: ImportInput,
    known: std::sync::mpsc::Receiver<Known>,
    tx: mpsc::Sender<Message>,
    bytes: Arc<AtomicU64>,
    hold_elements: usize,
) {
    let mut sender = ChunkSender::new(tx.clone());
    let refuse = |why: String| {
        let _ = tx.blocking_send(Message::Fatal(why));
    };
    // Every input is read the same way: the shape its start shows (or, for NDJSON by name or
    // content type, only that it is not empty).
    let (input, shape) = match shaped(input) {
        Ok(shaped) => shaped,
        Err(why) => return refuse(why),
    };
    let result = match input {
        ImportInput::Records(records) => {
            for value in &records {
                if !sender.push_value(value, None, 512) {
                    return;
                }
            }
            Ok(Envelope::new())
        }
        ImportInput::Reader(reader) | ImportInput::Body(reader, _) => scan(
            reader,
            shape,
            Held::new(None, hold_elements),
            &known,
            &mut sender,
            bytes,
        ),
        ImportInput::File(file) => match std::io::Seek::stream_position(&mut &file) {
            Ok(start) => scan(
                &file,
                shape,
                Held::new(Some((&file, start)), hold_elements),
                &known,
                &mut sender,
                bytes,
            ),
            Err(e) => Err(StreamError::Io(e)),
        },
    };
    let msg = match result {
        Ok(envelope) => {
            if sender.flush() && !envelope.is_empty() {
                let _ = tx.blocking_send(Message::Envelope(envelope));
            }
            return;
        }
        Err(StreamError::Io(e)) => format!("could not read the input: {e}"),
        Err(e) => match shape {
            Shape::Array => format!("the input must be a JSON array of records: {e}"),
            Shape::ArrayOrObject => format!(
                "the input must be a JSON array of records or {{\"data\": [records], …}}: {e}"
            ),
            Shape::Lines => format!("the input must be one JSON record per line (NDJSON): {e}"),
        },
    };
    let _ = tx.blocking_send(Message::Fatal(msg));
}

/// The input, and the shape its records come in (see `input_format`): its first bytes are read
/// to decide (a reader's are put back in front of the rest; a file's are read where they
/// are), or why it is refused.
fn shaped(input: ImportInput) -> Result<(ImportInput, Shape), String> {
    use crate::ingest::format::{read_head, shape_of_head};
    let could_not_read = |e: std::io::Error| format!("could not read the input: {e}");
    match input {
        ImportInput::Records(_) => Ok((input, Shape::Array)),
        ImportInput::Body(mut reader, given) => {
            let (head, whole) = read_head(&mut reader).map_err(could_not_read)?;
            let shape = match (given, shape_of_head(&head, whole)) {
                // One record per line, as announced: only an empty input is refused here.
                (Shape::Lines, Err(crate::ingest::format::FormatError::Empty)) => {
                    return Err(crate::ingest::format::FormatError::Empty.to_string());
                }
                (Shape::Lines, _) => Shape::Lines,
                (_, found) => found.map_err(|e| e.to_string())?,
            };
            let reader = Box::new(std::io::Cursor::new(head).chain(reader));
            Ok((ImportInput::Body(reader, shape), shape))
        }
        ImportInput::Reader(mut reader) => {
            let (head, whole) = read_head(&mut reader).map_err(could_not_read)?;
            let shape = shape_of_head(&head, whole).map_err(|e| e.to_string())?;
            let reader = Box::new(std::io::Cursor::new(head).chain(reader));
            Ok((ImportInput::Reader(reader), shape))
        }
        ImportInput::File(file) => {
            let start = std::io::Seek::stream_position(&mut &file).map_err(could_not_read)?;
            let mut reader = FileAt {
                file: &file,
                at: start,
            };
            let (head, whole) = read_head(&mut reader).map_err(could_not_read)?;
            let shape = shape_of_head(&head, whole).map_err(|e| e.to_string())?;
            Ok((ImportInput::File(file), shape))
        }
    }
}

/// Reads a file from an offset without moving its cursor.
struct FileAt<'f> {
    file: &'f std::fs::File,
    at: u64,
}

impl Read for FileAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// `produce` for input read as a stream of bytes; the other fields of an object input.
fn scan(
    reader: impl Read,
    shape: Shape,
    mut held: Held,
    known: &std::sync::mpsc::Receiver<Known>,
    sender: &mut ChunkSender,
    bytes: Arc<AtomicU64>,
) -> Result<Envelope, StreamError> {
    let reader = CountingReader {
        inner: reader,
        count: bytes,
    };
    let mut known_now: Option<Recognizer> = None;
    let mut waiting = true;
    let result = json_stream::for_each_element_in(reader, 1 << 18, shape, |raw, place| {
        let raw_hash: [u8; 32] = Sha256::digest(raw).into();
        if waiting {
            match known.try_recv() {
                Ok(k) => known_now = Some(Recognizer::new(k)),
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    if held.hold(raw, place, raw_hash) {
                        return Ok(Flow::Continue);
                    }
                    known_now = known.recv().ok().map(Recognizer::new);
                    waiting = false;
                    let more = held.release(sender, &mut known_now)?;
                    return Ok(if more { Flow::Continue } else { Flow::Stop });
                }
                // The writer is gone.
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Ok(Flow::Stop),
            }
            waiting = false;
            if !held.release(sender, &mut known_now)? {
                return Ok(Flow::Stop);
            }
        }
        let more = pass_on(sender, &mut known_now, raw_hash, place.at, || Ok(raw))?;
        Ok(if more { Flow::Continue } else { Flow::Stop })
    });
    match result {
        Ok(envelope) if waiting => {
            known_now = known.recv().ok().map(Recognizer::new);
            held.release(sender, &mut known_now).map(|_| envelope)
        }
        // An element held unparsed may hold the first error of the input.
        Err(e) => Err(held.first_error().unwrap_or(e)),
        ok => ok,
    }
}
