//! Runs: their kinds and statuses as types (each word spelled here once), which records a run
//! of each kind writes, and when a run cannot be rolled back.
use super::kinds::string_enum;
use crate::ids::Side;

string_enum!(
    /// What kind of operation a run was.
    RunKind, "run kind", {
        Import => "import",
        Sync => "sync",
        Edit => "edit",
        Restore => "restore",
        Rollback => "rollback",
        Resolve => "resolve",
        Cleanup => "cleanup",
    }
);

string_enum!(
    /// Where a run stands.
    RunStatus, "run status", {
        Running => "running",
        Succeeded => "succeeded",
        RolledBack => "rolled_back",
        Failed => "failed",
    }
);

pub const STATUS_RUNNING: &str = "running";
pub const STATUS_SUCCEEDED: &str = "succeeded";
pub const STATUS_ROLLED_BACK: &str = "rolled_back";
pub const STATUS_FAILED: &str = "failed";

impl RunKind {
    /// The kind of a stored run (`None` for a word no version of this program wrote).
    pub fn of(text: &str) -> Option<RunKind> {
        text.parse().ok()
    }

    /// Which side's records a run of this kind creates: an import's or a manual entry's the
    /// source's (an edit of a target record creates none), a sync's the target's.
    pub fn creates_on(self, has_target: bool) -> Option<Side> {
        match self {
            RunKind::Import | RunKind::Edit if !has_target => Some(Side::Source),
            RunKind::Sync => Some(Side::Target),
            _ => None,
        }
    }

    /// Imports and syncs change records in bulk: the overview's chart shows them.
    pub fn is_bulk_change(self) -> bool {
        matches!(self, RunKind::Import | RunKind::Sync)
    }
}

/// Why run `id` (of `kind`, in `status`) cannot be rolled back, if it cannot.
pub fn rollback_refusal(
    id: impl std::fmt::Display,
    kind: Option<RunKind>,
    status: &str,
) -> Option<String> {
    match (kind, status) {
        (_, STATUS_ROLLED_BACK) => Some(format!("run {id} was already rolled back")),
        (_, STATUS_RUNNING) => Some(format!("run {id} has not finished")),
        (_, STATUS_FAILED) => Some(format!(
            "run {id} failed, so it changed nothing: there is nothing to roll back"
        )),
        (Some(RunKind::Cleanup), _) => Some(format!(
            "run {id} is a cleanup: deleted history cannot be brought back"
        )),
        _ => None,
    }
}

/// Whether a run in `status` of `kind` may be rolled back (the dashboard offers it).
pub fn can_roll_back(kind: Option<RunKind>, status: &str) -> bool {
    status == STATUS_SUCCEEDED && rollback_refusal(0, kind, status).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_say_what_they_create() {
        for k in RunKind::ALL {
            assert_eq!(RunKind::of(k).map(RunKind::as_str), Some(*k));
        }
        assert_eq!(RunKind::of("deliver"), None);
        assert_eq!(RunKind::Import.creates_on(false), Some(Side::Source));
        assert_eq!(RunKind::Edit.creates_on(true), None);
        assert_eq!(RunKind::Sync.creates_on(true), Some(Side::Target));
        assert!(RunKind::Sync.is_bulk_change() && !RunKind::Edit.is_bulk_change());
    }
}
