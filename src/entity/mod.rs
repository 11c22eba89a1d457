//! sea-orm entities, one per table. No logic here.
pub mod api_keys;
pub mod idempotency_keys;
pub mod runs;
pub mod snapshots;
pub mod source_properties;
pub mod sources;
pub mod target_properties;
pub mod targets;
pub mod tenants;
pub mod ui_sessions;
pub mod ui_uploads;
pub mod warnings;
