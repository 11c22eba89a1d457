//! Pure logic with no I/O: canonical JSON and hashing, record identity, three-way merge,
//! JSON merge patch, and the stats types every operation reports.
pub mod canonical;
pub mod diff;
pub mod drift;
pub mod identity;
pub(crate) mod import_index;
pub(crate) mod import_plan;
pub mod import_preview;
pub mod kinds;
pub mod listing;
pub mod merge;
pub mod patch;
pub mod rollback_plan;
pub mod run;
pub mod stats;
pub mod sync_plan;
pub mod title;
pub mod warning;
pub mod words;
