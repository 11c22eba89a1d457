//! sync-manager: a multi-tenant data synchronisation hub.
//!
//! Layers, one direction: `cli`/`http` → `service` → `store` → `entity`, with the decisions in
//! `domain` and the parsing in `ingest` (see ARCHITECTURE.md).
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod http;
pub mod ids;
pub mod ingest;
pub mod scheduler;
pub mod service;
pub(crate) mod store;

pub use error::{AppError, AppResult};
