//! How bytes become records: the streaming JSON scanner, the borrowed parse tree, and the
//! formats an input may come in. Parsing only: no database, no async runtime, no
//! configuration (limits are passed in).
pub mod borrowed;
pub mod format;
pub mod json_stream;
