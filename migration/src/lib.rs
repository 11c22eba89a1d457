//! Schema history of sync-manager. Append-only: one file per change, never edit a shipped one.
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_initial;
mod m20261121_000002_live_property_indexes;
mod m20261122_000003_source_raw_hash;
mod m20261122_000004_live_counts;
mod m20261122_000005_statement_references;
mod m20261202_000006_run_owners_and_idempotency;
mod m20261202_000007_dashboard_sessions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial::Migration),
            Box::new(m20261121_000002_live_property_indexes::Migration),
            Box::new(m20261122_000003_source_raw_hash::Migration),
            Box::new(m20261122_000004_live_counts::Migration),
            Box::new(m20261122_000005_statement_references::Migration),
            Box::new(m20261202_000006_run_owners_and_idempotency::Migration),
            Box::new(m20261202_000007_dashboard_sessions::Migration),
        ]
    }
}
