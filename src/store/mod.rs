//! Every SQL statement and every SQLite/PostgreSQL difference: plain functions, the backend
//! matched once per statement. Nothing above this layer writes SQL text or asks which database
//! it runs on.
pub mod agg;
pub mod listing;
pub mod live_counts;
pub mod locks;
pub mod record_rows;
pub mod retention;
pub mod run_rows;
pub mod snapshot_rows;
pub mod source_rows;
pub mod sql;
pub mod target_rows;
pub mod warning_rows;
