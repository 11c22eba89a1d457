//! Stats and plan types reported by imports and syncs.
use serde::{Deserialize, Serialize};

/// The words of a run's stats in the order people read them.
pub const STAT_KEYS: [&str; 12] = [
    "created",
    "updated",
    "unchanged",
    "deleted",
    "restored",
    "rejected",
    "warnings",
    "removed",
    "skipped",
    "resolved",
    "snapshots",
    "runs",
];

/// What happened to a record, in words, for its badge: a sync action (`merge`,
/// `keep_target`, …) or what a run did to it (`created`, `deleted`, …, `unchanged`).
pub fn action_words(action: &str) -> &str {
    match action {
        "create" | "created" => "new",
        "update" | "updated" => "updated",
        "restore" | "restored" => "brought back",
        "merge" => "merged",
        "keep_target" => "kept as edited",
        "overwrite" => "overwritten",
        "delete" | "deleted" => "deleted",
        "unchanged" => "nothing written",
        other => other,
    }
}

/// Counts of one import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub restored: u64,
    pub rejected: u64,
}

/// Counts of one sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStats {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub warnings: u64,
}

/// A record of an import that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// Zero-based position of the record in the batch.
    pub index: u64,
    /// The record's identity, when it could be read.
    pub external_id: Option<String>,
    pub reason: String,
    /// Superseded by a later record of the same id (not an invalid record).
    #[serde(skip)]
    pub superseded: bool,
}

/// What a sync does (or, in a dry run, would do) to one target property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    Create,
    Update,
    Restore,
    Merge,
    KeepTarget,
    Overwrite,
    Delete,
}

impl SyncAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncAction::Create => "create",
            SyncAction::Update => "update",
            SyncAction::Restore => "restore",
            SyncAction::Merge => "merge",
            SyncAction::KeepTarget => "keep_target",
            SyncAction::Overwrite => "overwrite",
            SyncAction::Delete => "delete",
        }
    }

    /// What the action does, for people.
    pub fn words(self) -> &'static str {
        match self {
            SyncAction::Create => "new on the target",
            SyncAction::Update => "updated from the source",
            SyncAction::Restore => "brought back",
            SyncAction::Merge => "merged with the edits made by hand",
            SyncAction::KeepTarget => "left as edited by hand (warning)",
            SyncAction::Overwrite => "edits by hand overwritten (warning, kept as a version)",
            SyncAction::Delete => "deleted",
        }
    }
}

/// One line of a sync plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub external_id: String,
    pub action: SyncAction,
    /// Top-level fields involved in a conflict or an overwrite of manual edits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}
