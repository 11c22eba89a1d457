//! Import: records into a source. Streams the input (a JSON array read element by element on a
//! parser thread, pipelined with the database writer), compares hashes against the existing
//! records read in one query, and writes in multi-row batches inside one transaction.
use super::import_preview::{Preview, PreviewedRecord};
use super::index_cache::{IndexCache, Stamp};
use super::runs::{self, RunKind};
use super::snapshots::snapshot_ids;
use super::{Actor, now};
use crate::domain::canonical::{canonical_and_hash, hex_lower, hex32, push_hex};
use crate::domain::identity::{IdentityError, extract_external_id};
use crate::domain::import_index::{
    DELETED, EXISTS, Entry, Ids, Index, KnownRaw, NO_SLOT, Outcome, SEEN, Seen, Written,
};
use crate::domain::stats::{ImportStats, RecordError};
use crate::domain::warning::{NewWarning, WarningKind, rejected_message};
use crate::error::{AppError, AppResult};
use crate::ids::Side;
use crate::ids::{Owner, RunId, SourceId, TenantId};
use crate::ingest::borrowed::Node;
use crate::ingest::json_stream::{self, Envelope, Flow, Shape, StreamError};
use crate::store::agg::{self, AggPage, Sep, page_rows};
use crate::store::locks::{self, Mode};
use crate::store::sql::{CHUNK, Sql};
use crate::store::warning_rows;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// `upsert` leaves records absent from the batch alone; `full` soft-deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    #[default]
    Upsert,
    Full,
}

impl std::str::FromStr for ImportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upsert" => Ok(ImportMode::Upsert),
            "full" => Ok(ImportMode::Full),
            other => Err(format!(
                "unknown import mode {other:?}; expected upsert or full"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Reject the whole batch if any record is invalid.
    pub strict: bool,
    /// Compute the stats, write nothing.
    pub dry_run: bool,
    /// Let a `full` import delete more than the source's `max_delete_fraction`.
    pub force: bool,
}

/// Where the records come from.
pub enum ImportInput {
    /// A JSON array, streamed (stdin, a request body).
    Reader(Box<dyn Read + Send>),
    /// A JSON array in a regular file (from its current position), streamed; what has to be
    /// read twice is read again from the file instead of being held in memory.
    File(std::fs::File),
    /// A request body, streamed, shaped as `Shape` says. An object's `mode`, `strict` and
    /// `force` fields (wherever they stand) override the options given to [`import`].
    Body(Box<dyn Read + Send>, Shape),
    /// Records already in memory.
    Records(Vec<Value>),
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    pub records: u64,
    pub bytes: u64,
}

pub type ProgressFn = Arc<dyn Fn(ImportProgress) + Send + Sync>;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportOutcome {
    /// The run recorded; `None` for a dry run.
    pub run_id: Option<RunId>,
    pub stats: ImportStats,
    /// Rejected records and records superseded by a later one with the same id.
    pub errors: Vec<RecordError>,
    pub dry_run: bool,
    /// A dry run's records that would change (the first of them), record by record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preview: Vec<PreviewedRecord>,
}

/// How many parsed records travel between the parser and the writer at once.
const PARSE_CHUNK: usize = 1000;
/// The columns `load_index` reads.
const INDEX_COLUMNS: [(&str, Sep); 5] = [
    ("id", Sep::Comma),
    ("external_id", Sep::Record),
    ("hash", Sep::Comma),
    (
        "CASE WHEN deleted_at IS NULL THEN '0' ELSE '1' END",
        Sep::Nothing,
    ),
    ("raw_hash", Sep::Comma),
];

/// Parsed chunks that may wait for the writer (while it reads the source's index).
const PARSE_BACKLOG: usize = 8;
/// Rows per multi-row upsert statement: SQLite binds four parameters a row (and allows
/// 32,766), PostgreSQL four arrays a statement, where fewer statements mean fewer round trips.
const WRITE_ROWS_SQLITE: usize = 1000;
const WRITE_ROWS_POSTGRES: usize = 5000;

/// A record ready to be written.
struct Parsed {
    index: u64,
    external_id: String,
    text: String,
    hash: [u8; 32],
    /// sha256 of the bytes the record was read from (none for records handed over parsed).
    raw: Option<[u8; 32]>,
}

enum Item {
    Ok(Parsed),
    /// Byte for byte a live record the source holds (at `slot` of the writer's index), and the
    /// first record of its id in this import (see `Recognizer`): unchanged, so not parsed.
    Same {
        index: u64,
        slot: u32,
    },
    Rejected(RecordError),
}

enum Message {
    Chunk(Vec<Item>),
    /// The other fields of an object input, sent after its last record.
    Envelope(Envelope),
    /// The input is not a JSON array of records (or could not be read).
    Fatal(String),
}

/// What the writer tells the parser once it has read the source's records: the raw hashes it
/// may pass on unparsed, and the slots of the ids read (slots `0..ids.len()`).
struct Known {
    raw: Arc<KnownRaw>,
    ids: Arc<Ids>,
}

/// The parser's use of `Known`: a record byte-identical to a live one is passed on unparsed
/// only if no record before it in this import had its id (the writer then has nothing to decide
/// and never needs its bytes); a later record of an id is parsed and taken like any other.
struct Recognizer {
    known: Known,
    /// Slots of ids that a record passed on already had.
    taken: Vec<bool>,
}

impl Recognizer {
    fn new(known: Known) -> Self {
        let taken = vec![false; known.ids.len()];
        Recognizer { known, taken }
    }

    /// The slot to pass a record with these raw bytes on as, or `None` to parse it.
    fn same(&mut self, raw_hash: &[u8; 32]) -> Option<u32> {
        let slot = *self.known.raw.get(raw_hash)?;
        let taken = self.taken.get_mut(slot as usize)?;
        (!std::mem::replace(taken, true)).then_some(slot)
    }

    /// A parsed record of `external_id` is passed on.
    fn parsed(&mut self, external_id: &str) {
        if let Some(slot) = self.known.ids.get(external_id)
            && let Some(taken) = self.taken.get_mut(slot as usize)
        {
            *taken = true;
        }
    }
}

/// The `raw_hash` column: the raw sha256 and the first 16 hex digits of the canonical hash.
fn raw_hash_column(raw: &[u8; 32], hash: &[u8; 32]) -> String {
    let mut text = Vec::with_capacity(80);
    push_hex(raw, &mut text);
    push_hex(&hash[..8], &mut text);
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// `raw_hash` for the PostgreSQL array insert: empty for none (turned into NULL there).
fn raw_column(record: &Parsed) -> String {
    record
        .raw
        .map(|raw| raw_hash_column(&raw, &record.hash))
        .unwrap_or_default()
}

/// `len_hint`: about how long the record's canonical text will be.
fn parse_record(index: u64, value: &Value, raw: Option<[u8; 32]>, len_hint: usize) -> Item {
    record_item(index, extract_external_id(value), raw, || {
        canonical_and_hash(value, len_hint)
    })
}

/// A record with this identity (or none), canonicalised by `canonical` if it has one.
fn record_item(
    index: u64,
    external_id: Result<String, IdentityError>,
    raw: Option<[u8; 32]>,
    canonical: impl FnOnce() -> (String, [u8; 32]),
) -> Item {
    match external_id {
        Ok(external_id) => {
            let (text, hash) = canonical();
            Item::Ok(Parsed {
                index,
                external_id,
                text,
                hash,
                raw,
            })
        }
        Err(e) => Item::Rejected(RecordError {
            index,
            external_id: None,
            reason: e.to_string(),
        }),
    }
}

/// Sends parsed records in chunks; false once the receiver is gone.
struct ChunkSender {
    tx: mpsc::Sender<Message>,
    chunk: Vec<Item>,
    next_index: u64,
}

impl ChunkSender {
    fn new(tx: mpsc::Sender<Message>) -> Self {
        ChunkSender {
            tx,
            chunk: Vec::with_capacity(PARSE_CHUNK),
            next_index: 0,
        }
    }

    fn push(&mut self, item: Item) -> bool {
        self.chunk.push(item);
        self.next_index += 1;
        if self.chunk.len() >= PARSE_CHUNK {
            return self.flush();
        }
        true
    }

    fn push_value(&mut self, value: &Value, raw: Option<[u8; 32]>, len_hint: usize) -> bool {
        self.push(parse_record(self.next_index, value, raw, len_hint))
    }

    fn push_same(&mut self, slot: u32) -> bool {
        self.push(Item::Same {
            index: self.next_index,
            slot,
        })
    }

    fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(PARSE_CHUNK));
        self.tx.blocking_send(Message::Chunk(chunk)).is_ok()
    }
}

/// Parses one raw element; a syntax error is placed in the whole input.
fn parse_raw(raw: &[u8], at: json_stream::Position) -> Result<Value, StreamError> {
    serde_json::from_slice(raw).map_err(|e| {
        let text = e.to_string();
        let message = text.split(" at line ").next().unwrap_or(&text).to_string();
        StreamError::Syntax {
            message,
            at: at.offset(e.line(), e.column()),
        }
    })
}

/// Counts the bytes read, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One element held while the writer reads the source's index.
struct HeldElement {
    /// Where its bytes are: in `Held::bytes`, or in the file.
    offset: u64,
    len: usize,
    raw_hash: [u8; 32],
    at: json_stream::Position,
}

/// Elements read (and raw-hashed) before the writer has read the source's index: their bytes,
/// or for a file only where they are (read again if they have to be parsed, which unchanged
/// records never are).
struct Held<'f> {
    /// The file, and where in it the reading began.
    file: Option<(&'f std::fs::File, u64)>,
    bytes: Vec<u8>,
    elements: Vec<HeldElement>,
}

/// How much input may be held while the source's index loads: bytes of an input that cannot be
/// read twice, and elements (see `hold_elements`).
const HOLD_BYTES: usize = 64 << 20;

/// Elements held at most: 524,288, or `SYNC_MANAGER_HOLD_ELEMENTS` (the CLI tests hold two, so
/// that imports go on past the limit while the index loads).
fn hold_elements() -> usize {
    crate::config::tuning().hold_elements
}
/// Bytes read at once when held elements of a file are read again.
const REREAD_WINDOW: usize = 1 << 20;

impl<'f> Held<'f> {
    fn new(file: Option<(&'f std::fs::File, u64)>) -> Self {
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
        }
    }

    /// Holds one element; false once no more should be held.
    fn hold(&mut self, raw: &[u8], place: json_stream::Place, raw_hash: [u8; 32]) -> bool {
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
        self.elements.len() < hold_elements() && self.bytes.len() < HOLD_BYTES
    }

    /// Passes on everything held; false once the receiver is gone.
    fn release(
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
    fn bytes_of<'w>(
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
    fn first_error(&self) -> Option<StreamError> {
        let mut window = Window::default();
        self.elements.iter().find_map(|e| {
            self.bytes_of(e, &mut window)
                .and_then(|raw| parse_raw(raw, e.at).map(|_| ()))
                .err()
        })
    }
}

fn file_changed() -> std::io::Error {
    std::io::Error::other("the file changed while it was being imported")
}

/// A window of a file read at an offset, for reading held elements again in order.
#[derive(Default)]
struct Window {
    start: u64,
    buf: Vec<u8>,
    /// How much of `buf` holds bytes of the file.
    filled: usize,
}

impl Window {
    fn read(&mut self, file: &std::fs::File, offset: u64, len: usize) -> std::io::Result<&[u8]> {
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

/// The largest record an import takes, in bytes of its JSON text: a bigger one is rejected
/// with a reason (it would be kept whole in every snapshot and every page that shows it).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Passes one element on: unparsed if `known` says so, else parsed from the bytes `raw` gives
/// (read only then).
fn pass_on<'r>(
    sender: &mut ChunkSender,
    known: &mut Option<Recognizer>,
    raw_hash: [u8; 32],
    at: json_stream::Position,
    raw: impl FnOnce() -> Result<&'r [u8], StreamError>,
) -> Result<bool, StreamError> {
    if let Some(slot) = known.as_mut().and_then(|k| k.same(&raw_hash)) {
        return Ok(sender.push_same(slot));
    }
    let raw = raw()?;
    let index = sender.next_index;
    if raw.len() > MAX_RECORD_BYTES {
        return Ok(sender.push(Item::Rejected(RecordError {
            index,
            external_id: None,
            reason: format!(
                "record is {:.1} MB of JSON; one record may be at most {} MB (keep big \
                 content such as images elsewhere and import its URL)",
                raw.len() as f64 / (1 << 20) as f64,
                MAX_RECORD_BYTES >> 20
            ),
        })));
    }
    let item = match Node::parse(raw) {
        // Without a tree of owned values; the same id, text and hash.
        Some(node) => record_item(index, node.external_id(), Some(raw_hash), || {
            node.canonical_and_hash(raw.len())
        }),
        None => parse_record(index, &parse_raw(raw, at)?, Some(raw_hash), raw.len()),
    };
    if let (Some(known), Item::Ok(parsed)) = (known.as_mut(), &item) {
        known.parsed(&parsed.external_id);
    }
    Ok(sender.push(item))
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
        ImportInput::Reader(reader) | ImportInput::Body(reader, _) => {
            scan(reader, shape, Held::new(None), &known, &mut sender, bytes)
        }
        ImportInput::File(file) => match std::io::Seek::stream_position(&mut &file) {
            Ok(start) => scan(
                &file,
                shape,
                Held::new(Some((&file, start))),
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

/// The first record of an id in this import, the same as the live one stored: nothing to write.
fn take_unchanged(entry: &mut Entry, stats: &mut ImportStats, index: u64) {
    entry.set_seen(Seen {
        index,
        outcome: Outcome::Unchanged,
        pending: None,
        snapshotted: false,
    });
    count(stats, Outcome::Unchanged, 1);
}

fn count(stats: &mut ImportStats, outcome: Outcome, delta: i64) {
    let slot = match outcome {
        Outcome::Created => &mut stats.created,
        Outcome::Updated => &mut stats.updated,
        Outcome::Restored => &mut stats.restored,
        Outcome::Unchanged => &mut stats.unchanged,
    };
    *slot = slot.wrapping_add_signed(delta);
}

struct Pending {
    record: Parsed,
    /// Existing row to snapshot before the write.
    snapshot: Option<i64>,
    /// No row has this id: not in the source when the import began (imports of a source are
    /// serialised) and not written earlier by this import. Written by a plain `INSERT`,
    /// cheaper than an upsert.
    fresh: bool,
}

struct Writer<'a> {
    tx: &'a DatabaseTransaction,
    backend: DbBackend,
    tenant: TenantId,
    source: SourceId,
    run: RunId,
    index: Index,
    batch: Vec<Option<Pending>>,
    stats: ImportStats,
    errors: Vec<RecordError>,
    /// Classify everything, write nothing.
    dry_run: bool,
    /// A dry run's records that would change, noted as they are classified.
    preview: Option<Preview>,
    /// What was written, while the source's index is to be kept afterwards (`IndexCache`).
    written: Option<Written>,
    /// Whether a statement inserted rows (then the live count is recounted).
    inserted: bool,
    /// The id the next new row gets (SQLite, while `written` is noted): read once by
    /// `next_id`, then counted here, the transaction being the only writer. One query per
    /// batch instead was 100 round trips to the driver's thread in a new import of 100,000,
    /// each waiting for a core while the parser held one.
    next_row_id: Option<i64>,
}

impl Writer<'_> {
    /// Reads the source's records (id, external id, hash, deleted, raw hash) as aggregated
    /// pages, each fetched while the one before is taken in; returns the raw-bytes hashes of
    /// the live records that are still valid.
    async fn load_index(&mut self) -> AppResult<KnownRaw> {
        let (tx, backend, source) = (self.tx, self.backend, self.source);
        let fetch = async move |after: i64| {
            let mut q = AggPage::select(backend, "id", &INDEX_COLUMNS);
            // `+source_id`: walking the primary key in order beats SQLite's choice of the
            // source_id index plus a sort.
            q.push(
                "SELECT id, external_id, hash, deleted_at, raw_hash FROM source_properties \
                 WHERE +source_id = ",
            )
            .bind(source.0)
            .push(" AND id > ")
            .bind(after)
            .push(&format!(
                " ORDER BY id LIMIT {}) AS page",
                page_rows(backend)
            ));
            AggPage::fetch(q, tx, INDEX_COLUMNS.len()).await
        };
        let mut known = KnownRaw::default();
        let mut page = fetch(0).await?;
        while let Some(current) = page {
            let next = async {
                if current.rows < page_rows(backend) {
                    Ok(None)
                } else {
                    fetch(current.max_key).await
                }
            };
            let (next, taken) =
                tokio::join!(next, async { self.remember_page(&current, &mut known) });
            if !taken? {
                // An id holding the separator: read row by row.
                self.index.clear();
                return self.load_index_rows().await;
            }
            page = next?;
        }
        Ok(known)
    }

    /// Takes in one page of `load_index`; false if it does not split into rows.
    fn remember_page(&mut self, page: &AggPage, known: &mut KnownRaw) -> AppResult<bool> {
        let (Some(ids), Some(external_ids), Some(hashes), Some(deleted), Some(raws)) = (
            page.column(0, Sep::Comma),
            page.column(1, Sep::Record),
            page.column(2, Sep::Comma),
            page.column(3, Sep::Nothing),
            page.column(4, Sep::Comma),
        ) else {
            return Ok(false);
        };
        self.index.reserve(page.rows);
        known.reserve(page.rows);
        for (i, id) in ids.into_iter().enumerate() {
            let id = agg::int(id)?.unwrap_or_default();
            self.remember(
                id,
                external_ids[i],
                hashes[i],
                deleted[i] == "1",
                raws[i],
                known,
            );
        }
        Ok(true)
    }

    /// `load_index` one row at a time.
    async fn load_index_rows(&mut self) -> AppResult<KnownRaw> {
        let mut q = Sql::new(
            self.backend,
            "SELECT id, external_id, hash, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, \
             raw_hash FROM source_properties WHERE source_id = ",
        );
        q.bind(self.source.0);
        let rows = q.fetch_all(self.tx).await?;
        self.index.reserve(rows.len());
        let mut known = KnownRaw::with_capacity_and_hasher(rows.len(), Default::default());
        for row in rows {
            let id: i64 = row.try_get_by_index(0)?;
            let external_id: String = row.try_get_by_index(1)?;
            let hash_hex: String = row.try_get_by_index(2)?;
            let deleted: i32 = row.try_get_by_index(3)?;
            let raw_hash: Option<String> = row.try_get_by_index(4)?;
            let raw_hash = raw_hash.unwrap_or_default();
            self.remember(
                id,
                &external_id,
                &hash_hex,
                deleted != 0,
                &raw_hash,
                &mut known,
            );
        }
        Ok(known)
    }

    fn remember(
        &mut self,
        id: i64,
        external_id: &str,
        hash_hex: &str,
        deleted: bool,
        raw_hash: &str,
        known: &mut KnownRaw,
    ) {
        // A hash that is not 64 hex digits never equals a computed one.
        let hash = hex32(hash_hex.as_bytes()).unwrap_or([0; 32]);
        let slot = self.index.remember(external_id, id, hash, deleted);
        let (raw_hash, hash_hex) = (raw_hash.as_bytes(), hash_hex.as_bytes());
        if !deleted
            && raw_hash.len() == 80
            && hash_hex.len() == 64
            && raw_hash[64..] == hash_hex[..16]
            && let Some(raw) = hex32(&raw_hash[..64])
        {
            known.insert(raw, slot);
        }
    }

    /// A record byte-identical to the live one stored at `slot`, the first of its id in this
    /// import (the parser sees to both): unchanged, nothing to write.
    fn accept_same(&mut self, index: u64, slot: u32) -> AppResult<()> {
        let entry = self
            .index
            .entry(slot)
            .filter(|e| e.flags & (EXISTS | DELETED | SEEN) == EXISTS)
            .ok_or_else(|| {
                AppError::Db(sea_orm::DbErr::Custom(format!(
                    "import: record {index} was passed on unparsed as the live record of slot \
                     {slot}, which is not one (a bug)"
                )))
            })?;
        take_unchanged(entry, &mut self.stats, index);
        Ok(())
    }

    fn accept(&mut self, record: Parsed) {
        let slot = self.index.slot_of(&record.external_id);
        let existing = self.index.existing(slot);
        let Some(entry) = self.index.entry(slot) else {
            unreachable!("slot_of gives a slot of the index");
        };
        let outcome = match existing {
            None => Outcome::Created,
            Some((_, _, true)) => Outcome::Restored,
            Some((_, hash, false)) if hash == record.hash => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        };
        let existing_id = existing.map(|e| e.0);
        let prev = entry.seen();
        if prev.is_none() && outcome == Outcome::Unchanged {
            return take_unchanged(entry, &mut self.stats, record.index);
        }
        let fresh = existing.is_none() && prev.as_ref().is_none_or(|p| p.pending.is_some());
        let already_snapshotted = prev
            .as_ref()
            .is_some_and(|s| s.snapshotted && s.pending.is_none());
        let (write, snapshot) = match prev {
            None => (outcome != Outcome::Unchanged, outcome != Outcome::Created),
            Some(prev) => {
                // Duplicate id in one batch: the last one wins.
                self.errors.push(RecordError {
                    index: prev.index,
                    external_id: Some(record.external_id.clone()),
                    reason: format!("superseded by record {} with the same id", record.index),
                });
                count(&mut self.stats, prev.outcome, -1);
                if let Some(slot) = prev.pending {
                    // Not written yet: drop the earlier version from the batch.
                    let earlier = self.batch[slot].take();
                    let snapshotted = earlier.is_some_and(|p| p.snapshot.is_some());
                    (
                        outcome != Outcome::Unchanged,
                        snapshotted
                            || (outcome != Outcome::Created && outcome != Outcome::Unchanged),
                    )
                } else {
                    // The stored version is the existing one if the earlier record left it
                    // alone, else the earlier record's (written again, in case they differ).
                    (
                        outcome != Outcome::Unchanged || prev.outcome != Outcome::Unchanged,
                        !prev.snapshotted && existing_id.is_some(),
                    )
                }
            }
        };
        count(&mut self.stats, outcome, 1);
        if let Some(preview) = &mut self.preview {
            preview.note(&record.external_id, outcome, existing_id, &record.text);
        }
        let pending = write.then_some(self.batch.len());
        entry.set_seen(Seen {
            index: record.index,
            outcome,
            pending,
            snapshotted: already_snapshotted || (write && snapshot),
        });
        if write {
            self.batch.push(Some(Pending {
                record,
                snapshot: if snapshot { existing_id } else { None },
                fresh,
            }));
        }
    }

    fn write_rows(&self) -> usize {
        if self.backend == DbBackend::Postgres {
            WRITE_ROWS_POSTGRES
        } else {
            WRITE_ROWS_SQLITE
        }
    }

    /// Writes the batch (a dry run only forgets it).
    async fn flush(&mut self) -> AppResult<()> {
        let batch: Vec<Pending> = std::mem::take(&mut self.batch)
            .into_iter()
            .flatten()
            .collect();
        for pending in &batch {
            if let Some(slot) = self.index.find(&pending.record.external_id)
                && let Some(entry) = self.index.entry(slot)
            {
                entry.pending = NO_SLOT;
                if let Some(written) = &mut self.written {
                    let r = &pending.record;
                    written.records.push((slot, r.hash, r.raw));
                }
            }
        }
        if batch.is_empty() || self.dry_run {
            return Ok(());
        }
        self.inserted = true;
        let to_snapshot: Vec<i64> = batch.iter().filter_map(|p| p.snapshot).collect();
        snapshot_ids(self.tx, Side::Source, &to_snapshot, self.run, "import").await?;
        let at = now();
        let (tenant, source, run) = (self.tenant.0, self.source.0, self.run.0);
        let (fresh, known): (Vec<Pending>, Vec<Pending>) = batch.into_iter().partition(|p| p.fresh);
        for (mut rest, upsert) in [(fresh, false), (known, true)] {
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(self.write_rows()));
                let rows = std::mem::replace(&mut rest, tail);
                // New rows' ids, for the index kept after the import: SQLite's are given here
                // (see `next_id`), PostgreSQL's come back from `RETURNING`.
                let mut next_id = match (upsert, self.backend, &self.written) {
                    (false, DbBackend::Sqlite, Some(_)) => Some(match self.next_row_id {
                        Some(id) => id,
                        None => self.next_id().await?,
                    }),
                    _ => None,
                };
                let id_column = if next_id.is_some() { "id, " } else { "" };
                // The ids are integers of ours, written inline; the record columns are bound.
                let mut q = Sql::new(
                    self.backend,
                    &format!(
                        "INSERT INTO source_properties ({id_column}tenant_id, source_id, \
                     external_id, data, hash, raw_hash, created_run_id, run_id, created_at, \
                     updated_at) SELECT {}{tenant}, {source}, ",
                        if next_id.is_some() { "v.column5, " } else { "" }
                    ),
                );
                if self.backend == DbBackend::Postgres {
                    // Four array parameters instead of four per row.
                    let mut columns: [Vec<sea_orm::Value>; 4] = Default::default();
                    for p in rows {
                        let r = p.record;
                        columns[2].push(hex_lower(&r.hash).into());
                        columns[3].push(raw_column(&r).into());
                        columns[0].push(r.external_id.into());
                        columns[1].push(r.text.into());
                    }
                    q.push("u.e, u.d, u.h, NULLIF(u.r, ''), ");
                    q.push(&format!("{run}, {run}, "))
                        .bind(at)
                        .push(", ")
                        .bind(at)
                        .push(" FROM UNNEST(");
                    for (i, values) in columns.into_iter().enumerate() {
                        q.push(if i == 0 { "" } else { ", " })
                            .bind(sea_orm::Value::Array(
                                sea_orm::sea_query::ArrayType::String,
                                Some(Box::new(values)),
                            ))
                            .push("::text[]");
                    }
                    q.push(") AS u(e, d, h, r)");
                } else {
                    q.push("v.column1, v.column2, v.column3, v.column4, ")
                        .push(&format!("{run}, {run}, "))
                        .bind(at)
                        .push(", ")
                        .bind(at)
                        .push(" FROM (VALUES ");
                    for (i, p) in rows.into_iter().enumerate() {
                        let r = p.record;
                        let raw = r.raw.map(|raw| raw_hash_column(&raw, &r.hash));
                        let slot = self.index.find(&r.external_id);
                        q.push(if i == 0 { "(" } else { ", (" })
                            .bind(r.external_id)
                            .push(", ")
                            .bind(r.text)
                            .push(", ")
                            .bind(hex_lower(&r.hash))
                            .push(", ")
                            .bind(raw);
                        if let (Some(id), Some(slot), Some(written)) =
                            (next_id.as_mut(), slot, &mut self.written)
                        {
                            // Bound, not inline: the statement's text stays the same, so
                            // the driver's prepared statement is used again.
                            q.push(", ").bind(*id);
                            written.created.push((slot, *id));
                            *id += 1;
                        }
                        q.push(")");
                    }
                    // `WHERE true`: SQLite's reading of an upsert after a SELECT needs it.
                    q.push(") AS v WHERE true");
                    if next_id.is_some() {
                        self.next_row_id = next_id;
                    }
                }
                if upsert {
                    q.push(
                        " ON CONFLICT (source_id, external_id) DO UPDATE SET data = excluded.data, \
                     hash = excluded.hash, raw_hash = excluded.raw_hash, run_id = excluded.run_id, \
                     updated_at = excluded.updated_at, deleted_at = NULL",
                    );
                    q.execute(self.tx).await?;
                } else if self.written.is_some() && next_id.is_none() {
                    q.push(" RETURNING id, external_id");
                    for row in q.fetch_all(self.tx).await? {
                        let id: i64 = row.try_get_by_index(0)?;
                        let external_id: String = row.try_get_by_index(1)?;
                        if let (Some(slot), Some(written)) =
                            (self.index.find(&external_id), &mut self.written)
                        {
                            written.created.push((slot, id));
                        }
                    }
                } else {
                    q.execute(self.tx).await?;
                }
            }
        }
        Ok(())
    }

    /// The id the next new row gets, when the import gives new rows their ids itself (SQLite):
    /// one more than any the table ever had, as `AUTOINCREMENT` would choose, and the next
    /// ones after it, since this transaction is the only writer (`BEGIN IMMEDIATE`). Giving
    /// them here is free; reading them back with `RETURNING` costs ~5 µs a row in the driver
    /// (half an import of 100,000 new records). Inserting an id above the table's sequence
    /// moves the sequence, so later inserts go on after it.
    async fn next_id(&self) -> AppResult<i64> {
        let q = Sql::new(
            self.backend,
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = \
             'source_properties'), 0), coalesce((SELECT max(id) FROM source_properties), 0))",
        );
        let row = q.fetch_one(self.tx).await?;
        let last: i64 = match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(last + 1)
    }

    /// Live records this `full` import did not mention, and the live count before it.
    fn missing_live(&self) -> (Vec<i64>, u64) {
        self.index.missing_live()
    }

    async fn soft_delete(&mut self, ids: &[i64]) -> AppResult<()> {
        if self.dry_run {
            return Ok(());
        }
        snapshot_ids(self.tx, Side::Source, ids, self.run, "import").await?;
        if let Some(written) = &mut self.written {
            written.deleted_missing = true;
        }
        let at = now();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Sql::new(self.backend, "UPDATE source_properties SET deleted_at = ");
            q.bind(at)
                .push(", updated_at = ")
                .bind(at)
                .push(", run_id = ")
                .bind(self.run.0)
                .push(" WHERE id IN ")
                .bind_list(chunk.iter().copied());
            q.execute(self.tx).await?;
        }
        Ok(())
    }
}

/// `opts` with the `mode`, `strict` and `force` fields of an object input.
fn options_of(fields: &Envelope, mut opts: ImportOptions) -> AppResult<ImportOptions> {
    let flag = |name: &str, value: &Value| {
        value
            .as_bool()
            .ok_or_else(|| AppError::invalid(name, format!("must be true or false, got {value}")))
    };
    for (name, value) in fields {
        match name.as_str() {
            // null: the default, as if the field were left out.
            "mode" | "strict" | "force" if value.is_null() => {}
            "mode" => {
                opts.mode = value
                    .as_str()
                    .ok_or_else(|| "must be \"upsert\" or \"full\"".to_string())
                    .and_then(str::parse)
                    .map_err(|e| AppError::invalid("mode", e))?;
            }
            "strict" => opts.strict = flag(name, value)?,
            "force" => opts.force = flag(name, value)?,
            other => {
                return Err(AppError::invalid(
                    other,
                    "unknown field; the body is {\"data\": [records], \"mode\": \"upsert\" | \
                     \"full\", \"strict\": true | false, \"force\": true | false} (all but \
                     data optional), or the records alone as an array",
                ));
            }
        }
    }
    Ok(opts)
}

/// Imports records into a source: one transaction, one run. See SPEC §4 "Import".
pub async fn import(
    db: &DatabaseConnection,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let place = Place { db, indexes: None };
    import_into(place, tenant, source_id, input, opts, actor, progress).await
}

/// [`import`] for a process that imports the same sources again (the server): the source's
/// index is taken from `indexes` when what is kept there is still what the source holds, and
/// kept there afterwards (see `index_cache`).
#[allow(clippy::too_many_arguments)]
pub async fn import_keeping_index(
    db: &DatabaseConnection,
    indexes: &Arc<IndexCache>,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let place = Place {
        db,
        indexes: Some(indexes),
    };
    import_into(place, tenant, source_id, input, opts, actor, progress).await
}

/// Where an import writes: the database, and the indexes kept between imports if any.
#[derive(Clone, Copy)]
struct Place<'a> {
    db: &'a DatabaseConnection,
    indexes: Option<&'a Arc<IndexCache>>,
}

async fn import_into(
    place: Place<'_>,
    tenant: TenantId,
    source_id: SourceId,
    input: ImportInput,
    opts: ImportOptions,
    actor: &Actor,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let db = place.db;
    let source = super::sources::get(db, tenant, source_id).await?;
    if opts.dry_run {
        // A dry run writes nothing, its run included.
        return import_recorded(place, tenant, source, input, opts, actor, None, progress).await;
    }
    let new = runs::NewRun {
        tenant,
        kind: RunKind::Import,
        source: Some(source_id),
        target: None,
        actor,
    };
    let run = runs::open(db, new).await?;
    let id = RunId(run.id);
    let work = import_recorded(
        place,
        tenant,
        source,
        input,
        opts,
        actor,
        Some(run),
        progress,
    );
    runs::recorded(db, id, work).await
}

/// `import`, with its run (opened before, or `None` for a dry run, whose run lives and dies
/// with its transaction).
#[allow(clippy::too_many_arguments)]
async fn import_recorded(
    place: Place<'_>,
    tenant: TenantId,
    source: crate::entity::sources::Model,
    input: ImportInput,
    mut opts: ImportOptions,
    actor: &Actor,
    run: Option<crate::entity::runs::Model>,
    progress: Option<ProgressFn>,
) -> AppResult<ImportOutcome> {
    let (db, indexes) = (place.db, place.indexes);
    let source_id = SourceId(source.id);
    let settings = super::sources::settings(&source);

    let (chan_tx, mut chan_rx) = mpsc::channel::<Message>(PARSE_BACKLOG);
    let (known_tx, known_rx) = std::sync::mpsc::sync_channel::<Known>(1);
    let bytes = Arc::new(AtomicU64::new(0));
    let producer_bytes = bytes.clone();
    let producer = std::thread::Builder::new()
        .name("import-parser".into())
        .spawn(move || produce(input, known_rx, chan_tx, producer_bytes))
        .map_err(|e| AppError::Conflict(format!("could not start the parser thread: {e}")))?;

    let tx = crate::db::begin_write(db).await?;
    let run = match run {
        Some(run) => {
            runs::attach(&tx, &run).await?;
            run
        }
        None => runs::start(&tx, tenant, RunKind::Import, Some(source_id), None, actor).await?,
    };
    locks::lock(&tx, Owner::Source(source_id), Mode::Exclusive).await?;
    let mut writer = Writer {
        tx: &tx,
        backend: tx.get_database_backend(),
        tenant,
        source: source_id,
        run: RunId(run.id),
        index: Index::default(),
        batch: Vec::new(),
        stats: ImportStats::default(),
        errors: Vec::new(),
        dry_run: opts.dry_run,
        preview: opts.dry_run.then(Preview::default),
        written: None,
        inserted: false,
        next_row_id: None,
    };
    let started = std::time::Instant::now();
    // Read under the source's lock: nobody writes its records until this transaction ends.
    let stamp = match indexes {
        Some(indexes) => {
            indexes.settle(source_id).await;
            Some(Stamp::read(&tx, tenant, &source).await?)
        }
        None => None,
    };
    let kept = indexes
        .zip(stamp.as_ref())
        .and_then(|(indexes, stamp)| indexes.get(source_id, stamp));
    let hit = kept.is_some();
    let known = match &kept {
        Some(stored) => {
            writer.index = Index::from_stored(stored);
            Known {
                raw: stored.raw.clone(),
                ids: stored.ids.clone(),
            }
        }
        None => Known {
            raw: Arc::new(writer.load_index().await?),
            ids: writer.index.freeze(),
        },
    };
    drop(kept);
    tracing::debug!(
        rows = writer.index.len(),
        unparsed_candidates = known.raw.len(),
        kept = hit,
        ms = started.elapsed().as_millis() as u64,
        "import: source index loaded"
    );
    let raw_before = known.raw.clone();
    let dry_run = opts.dry_run;
    let keep =
        |index: &Index| !dry_run && indexes.is_some_and(|indexes| indexes.may_keep(index.len()));
    if keep(&writer.index) {
        writer.written = Some(Written::default());
    }
    // The parser may be done already (a small input); then nobody needs the hashes.
    let _ = known_tx.send(known);

    let mut records = 0u64;
    while let Some(message) = chan_rx.recv().await {
        match message {
            Message::Chunk(items) => {
                records += items.len() as u64;
                for item in items {
                    match item {
                        Item::Ok(parsed) => writer.accept(parsed),
                        Item::Same { index, slot } => writer.accept_same(index, slot)?,
                        Item::Rejected(err) => {
                            writer.stats.rejected += 1;
                            writer.errors.push(err);
                        }
                    }
                }
                if writer.batch.len() >= writer.write_rows() {
                    writer.flush().await?;
                    if writer.written.is_some() && !keep(&writer.index) {
                        // Too big to keep: the next import reads the index.
                        writer.written = None;
                    }
                }
                if let Some(progress) = &progress {
                    progress(ImportProgress {
                        records,
                        bytes: bytes.load(Ordering::Relaxed),
                    });
                }
            }
            Message::Envelope(fields) => opts = options_of(&fields, opts)?,
            Message::Fatal(reason) => {
                drop(chan_rx);
                let _ = producer.join();
                return Err(AppError::Malformed(reason));
            }
        }
    }
    let _ = producer.join();
    writer.flush().await?;
    tracing::debug!(
        records,
        ms = started.elapsed().as_millis() as u64,
        "import: input read and written"
    );

    if opts.strict && writer.stats.rejected > 0 {
        let errors = writer
            .errors
            .into_iter()
            .filter(|e| !e.reason.starts_with("superseded"))
            .collect();
        return Err(AppError::Rejected { errors });
    }

    if opts.mode == ImportMode::Full {
        let (missing, live) = writer.missing_live();
        let fraction = if live == 0 {
            0.0
        } else {
            missing.len() as f64 / live as f64
        };
        if !missing.is_empty() && fraction > settings.max_delete_fraction && !opts.force {
            return Err(AppError::Conflict(format!(
                "refusing a full import that would delete {} of {} live records ({:.0}%), more \
                 than the source's max_delete_fraction of {:.0}%; check the input, or force it \
                 (--force / \"force\": true), or raise config.max_delete_fraction",
                missing.len(),
                live,
                fraction * 100.0,
                settings.max_delete_fraction * 100.0
            )));
        }
        writer.stats.deleted = missing.len() as u64;
        if let Some(preview) = &mut writer.preview {
            preview.deleted(&missing);
        }
        writer.soft_delete(&missing).await?;
    }

    let stats = writer.stats;
    let errors = writer.errors;
    if opts.dry_run {
        let preview = match writer.preview.take() {
            Some(preview) => preview.finish(&tx).await?,
            None => Vec::new(),
        };
        tx.rollback().await?;
        return Ok(ImportOutcome {
            run_id: None,
            stats,
            errors,
            dry_run: true,
            preview,
        });
    }
    let rejected: Vec<&RecordError> = errors
        .iter()
        .filter(|e| !e.reason.starts_with("superseded"))
        .collect();
    if !rejected.is_empty() {
        let shown: Vec<&&RecordError> = rejected.iter().take(20).collect();
        let new = NewWarning {
            kind: WarningKind::Rejected,
            run_id: run.id,
            source_id: Some(source_id.0),
            target_id: None,
            target_property_id: None,
            external_id: None,
            source_hash: None,
            message: rejected_message(
                rejected.len(),
                source_id,
                rejected[0].index,
                &rejected[0].reason,
            ),
            details: serde_json::json!({"errors": shown, "total": rejected.len()}).to_string(),
        };
        warning_rows::insert(&tx, tenant, new, now()).await?;
    }
    let detail = serde_json::json!({
        "mode": if opts.mode == ImportMode::Full { "full" } else { "upsert" },
        "records": records,
        "errors": errors.iter().take(1000).collect::<Vec<_>>(),
        "errors_total": errors.len(),
    });
    if writer.inserted {
        super::properties::recount_after_insert(&tx, super::properties::Owner::Source(source_id))
            .await?;
    }
    let run = runs::finish(&tx, run, &stats, Some(detail)).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "import: run finished"
    );
    super::idempotency::seal(&tx).await?;
    // What the source holds once this commits: read while the lock is still held.
    let after = match (indexes, writer.written.take()) {
        (Some(_), Some(written)) => Some((
            Stamp::read(&tx, tenant, &source).await?,
            written,
            std::mem::take(&mut writer.index),
        )),
        _ => None,
    };
    tx.commit().await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "import: committed"
    );
    if let (Some(indexes), Some((stamp, written, index))) = (indexes, after) {
        // After the answer: ~25 ms for 100,000 new records that the client need not wait for.
        indexes.keep_later(source_id, stamp, move || index.after(&raw_before, &written));
    }
    Ok(ImportOutcome {
        run_id: Some(RunId(run.id)),
        stats,
        errors,
        dry_run: false,
        preview: Vec::new(),
    })
}
