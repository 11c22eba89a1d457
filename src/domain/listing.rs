//! What property lists are asked (filters and paging) and what they show of a record.
use super::drift::differs_from_sync;
use chrono::{DateTime, Utc};

/// Filters and paging of property lists (ordered by `external_id`).
#[derive(Debug, Clone, Default)]
pub struct PropertyFilter {
    /// Only target properties whose data differs from what the last sync wrote (or not).
    pub has_manual_changes: Option<bool>,
    /// Only properties updated at or after this instant, deleted ones included (a deletion is
    /// a change: a client polling for changes must hear of it).
    pub changed_since: Option<DateTime<Utc>>,
    /// Also list soft-deleted properties.
    pub include_deleted: bool,
    /// Only properties whose external id starts with this (the dashboard's search).
    pub prefix: Option<String>,
    /// Cursor: list properties whose external id sorts after this one.
    pub after: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: u64,
}

impl PropertyFilter {
    /// Soft-deleted properties are listed too: asked for, or a list of changes.
    pub fn lists_deleted(&self) -> bool {
        self.include_deleted || self.changed_since.is_some()
    }

    /// The filter lists every live property (so the kept count is its total).
    pub fn counts_all_live(&self) -> bool {
        !self.include_deleted
            && self.changed_since.is_none()
            && self.has_manual_changes.is_none()
            && self.prefix.is_none()
    }
}

/// What a property list shows of a record; a source's records leave the sync fields empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProperty {
    pub id: i64,
    /// The source or target it belongs to.
    pub owner_id: i64,
    pub external_id: String,
    pub source_property_id: Option<i64>,
    /// The stored (canonical) JSON text.
    pub data: String,
    pub hash: String,
    pub synced_hash: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl ListedProperty {
    /// Edited by hand since the last sync (see `has_manual_changes`).
    pub fn has_manual_changes(&self) -> bool {
        differs_from_sync(&self.hash, self.synced_hash.as_deref())
    }
}

/// Where a source's or target's property list stands: how many live records it has and a
/// version that moves with every write to its records (both kept by the database's triggers,
/// migration `m20261122_000004_live_counts`). A list page read after the version was read
/// is at least that new, so it can be served again while the version stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListState {
    pub live: u64,
    pub version: (i64, i64),
}
