//! What the parser hands the writer: records parsed, canonicalised and hashed, records passed
//! on unparsed because they are byte for byte a live one, and refusals; in chunks.
use super::borrowed::Node;
use super::json_stream::{self, Envelope, StreamError};
use crate::domain::canonical::canonical_and_hash;
use crate::domain::identity::{IdentityError, extract_external_id};
use crate::domain::import_index::{Ids, KnownRaw};
use crate::domain::import_plan::Parsed;
use crate::domain::stats::RecordError;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// How many parsed records travel between the parser and the writer at once.
const PARSE_CHUNK: usize = 1000;

pub enum Item {
    Ok(Parsed),
    /// Byte for byte a live record the source holds (at `slot` of the writer's index), and the
    /// first record of its id in this import (see `Recognizer`): unchanged, so not parsed.
    Same {
        index: u64,
        slot: u32,
    },
    Rejected(RecordError),
}

pub enum Message {
    Chunk(Vec<Item>),
    /// The other fields of an object input, sent after its last record.
    Envelope(Envelope),
    /// The input is not a JSON array of records (or could not be read).
    Fatal(String),
}

/// What the writer tells the parser once it has read the source's records: the raw hashes it
/// may pass on unparsed, and the slots of the ids read (slots `0..ids.len()`).
pub struct Known {
    pub raw: Arc<KnownRaw>,
    pub ids: Arc<Ids>,
}

/// The parser's use of `Known`: a record byte-identical to a live one is passed on unparsed
/// only if no record before it in this import had its id (the writer then has nothing to decide
/// and never needs its bytes); a later record of an id is parsed and taken like any other.
pub struct Recognizer {
    known: Known,
    /// Slots of ids that a record passed on already had.
    taken: Vec<bool>,
}

impl Recognizer {
    pub fn new(known: Known) -> Self {
        let taken = vec![false; known.ids.len()];
        Recognizer { known, taken }
    }

    /// The slot to pass a record with these raw bytes on as, or `None` to parse it.
    pub fn same(&mut self, raw_hash: &[u8; 32]) -> Option<u32> {
        let slot = *self.known.raw.get(raw_hash)?;
        let taken = self.taken.get_mut(slot as usize)?;
        (!std::mem::replace(taken, true)).then_some(slot)
    }

    /// A parsed record of `external_id` is passed on.
    pub fn parsed(&mut self, external_id: &str) {
        if let Some(slot) = self.known.ids.get(external_id)
            && let Some(taken) = self.taken.get_mut(slot as usize)
        {
            *taken = true;
        }
    }
}

/// `len_hint`: about how long the record's canonical text will be.
pub fn parse_record(index: u64, value: &Value, raw: Option<[u8; 32]>, len_hint: usize) -> Item {
    record_item(index, extract_external_id(value), raw, || {
        canonical_and_hash(value, len_hint)
    })
}

/// A record with this identity (or none), canonicalised by `canonical` if it has one.
pub fn record_item(
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
            superseded: false,
        }),
    }
}

/// Sends parsed records in chunks; false once the receiver is gone.
pub struct ChunkSender {
    tx: mpsc::Sender<Message>,
    chunk: Vec<Item>,
    pub next_index: u64,
}

impl ChunkSender {
    pub fn new(tx: mpsc::Sender<Message>) -> Self {
        ChunkSender {
            tx,
            chunk: Vec::with_capacity(PARSE_CHUNK),
            next_index: 0,
        }
    }

    pub fn push(&mut self, item: Item) -> bool {
        self.chunk.push(item);
        self.next_index += 1;
        if self.chunk.len() >= PARSE_CHUNK {
            return self.flush();
        }
        true
    }

    pub fn push_value(&mut self, value: &Value, raw: Option<[u8; 32]>, len_hint: usize) -> bool {
        self.push(parse_record(self.next_index, value, raw, len_hint))
    }

    pub fn push_same(&mut self, slot: u32) -> bool {
        self.push(Item::Same {
            index: self.next_index,
            slot,
        })
    }

    pub fn flush(&mut self) -> bool {
        if self.chunk.is_empty() {
            return true;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(PARSE_CHUNK));
        self.tx.blocking_send(Message::Chunk(chunk)).is_ok()
    }
}

/// Parses one raw element; a syntax error is placed in the whole input.
pub fn parse_raw(raw: &[u8], at: json_stream::Position) -> Result<Value, StreamError> {
    serde_json::from_slice(raw).map_err(|e| {
        let text = e.to_string();
        let message = text.split(" at line ").next().unwrap_or(&text).to_string();
        StreamError::Syntax {
            message,
            at: at.offset(e.line(), e.column()),
        }
    })
}

/// The largest record an import takes, in bytes of its JSON text: a bigger one is rejected
/// with a reason (it would be kept whole in every snapshot and every page that shows it).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Passes one element on: unparsed if `known` says so, else parsed from the bytes `raw` gives
/// (read only then).
pub fn pass_on<'r>(
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
            superseded: false,
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
