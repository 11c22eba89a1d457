//! How bytes become records: the streaming JSON scanner, the borrowed parse tree, and the
//! formats an input may come in. Parsing only: no database, no async runtime, no
//! configuration (limits are passed in).
pub mod borrowed;
pub mod format;
pub(crate) mod held;
pub(crate) mod item;
pub mod json_stream;
pub(crate) mod reader;

use json_stream::Shape;
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;

/// Where the records come from.
pub enum ImportInput {
    /// Records read as a stream (stdin), shaped as their first bytes say (`format`).
    Reader(Box<dyn Read + Send>),
    /// Records in a regular file (from its current position), streamed, shaped as their first
    /// bytes say; what has to be read twice is read again from the file instead of being held
    /// in memory.
    File(std::fs::File),
    /// A request body, streamed: one record per line if `Shape::Lines` says so, else shaped as
    /// its first bytes say. An object's `mode`, `strict` and `force` fields (wherever they
    /// stand) override the options given to `service::imports::import`.
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
