//! What rolling a run back does (SPEC §4 "Restore"): every record the run changed returns to
//! the version its first snapshot of the run holds, unless the record changed again since or
//! is gone; every record the run created is removed, unless it changed since. Skipped records
//! are reported with why. Which runs cannot be rolled back at all is `run::rollback_refusal`.
use crate::ids::Side;
use serde::Serialize;
use std::collections::HashSet;

pub use super::run::{can_roll_back, rollback_refusal};

/// A snapshot a run wrote, as a rollback reads it: the record, and the run that wrote the
/// record last (`None` when the record is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSnapshot {
    pub snapshot_id: i64,
    pub property_id: i64,
    pub external_id: String,
    /// The run that last wrote the record, if it still exists.
    pub current_run: Option<i64>,
    pub exists: bool,
}

/// A property a rollback left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedProperty {
    pub property_kind: Side,
    pub external_id: String,
    pub reason: String,
}

/// What to put back of one side's records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restores {
    /// The snapshots to apply (each record's first of the run: its version before it).
    pub snapshots: Vec<i64>,
    /// The records they go onto (snapshotted first).
    pub properties: Vec<i64>,
    pub skipped: Vec<SkippedProperty>,
}

fn changed_since(current_run: Option<i64>) -> String {
    current_run
        .map(|r| r.to_string())
        .unwrap_or_else(|| "?".into())
}

/// Which of the records run `run` snapshotted (`written`: its snapshots of `side`'s records in
/// the order it wrote them) go back to their pre-run version.
pub fn restores(side: Side, run: i64, written: Vec<RunSnapshot>) -> Restores {
    let mut out = Restores::default();
    let mut seen = HashSet::new();
    for s in written {
        if !seen.insert(s.property_id) {
            continue;
        }
        if !s.exists {
            out.skipped.push(SkippedProperty {
                property_kind: side,
                external_id: s.external_id,
                reason: "the property no longer exists".into(),
            });
        } else if s.current_run != Some(run) {
            out.skipped.push(SkippedProperty {
                property_kind: side,
                external_id: s.external_id,
                reason: format!(
                    "changed again since, by run {}",
                    changed_since(s.current_run)
                ),
            });
        } else {
            out.snapshots.push(s.snapshot_id);
            out.properties.push(s.property_id);
        }
    }
    out
}

/// Which of the records run `run` created (`created`: id, external id, the run that last
/// wrote it) are removed, and which are reported because they changed since.
pub fn removals(
    side: Side,
    run: i64,
    created: Vec<(i64, String, Option<i64>)>,
) -> (Vec<i64>, Vec<SkippedProperty>) {
    let (mut remove, mut skipped) = (Vec::new(), Vec::new());
    for (property_id, external_id, current_run) in created {
        if current_run == Some(run) {
            remove.push(property_id);
        } else {
            skipped.push(SkippedProperty {
                property_kind: side,
                external_id,
                reason: format!(
                    "created by run {run} but changed again since, by run {}",
                    changed_since(current_run)
                ),
            });
        }
    }
    (remove, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::run::RunKind;

    fn snap(id: i64, property: i64, current_run: Option<i64>, exists: bool) -> RunSnapshot {
        RunSnapshot {
            snapshot_id: id,
            property_id: property,
            external_id: format!("P{property}"),
            current_run,
            exists,
        }
    }

    #[test]
    fn first_snapshot_is_the_pre_run_version() {
        let r = restores(
            Side::Target,
            5,
            vec![
                snap(10, 1, Some(5), true),
                snap(11, 1, Some(5), true),
                snap(12, 2, Some(5), true),
            ],
        );
        assert_eq!((r.snapshots, r.properties), (vec![10, 12], vec![1, 2]));
        assert!(r.skipped.is_empty());
    }

    #[test]
    fn changed_since_is_skipped_naming_the_run() {
        let r = restores(Side::Source, 5, vec![snap(10, 1, Some(9), true)]);
        assert!(r.snapshots.is_empty());
        assert_eq!(r.skipped[0].reason, "changed again since, by run 9");
        assert_eq!(r.skipped[0].property_kind, Side::Source);
    }

    #[test]
    fn vanished_property_is_skipped() {
        let r = restores(Side::Target, 5, vec![snap(10, 1, None, false)]);
        assert_eq!(r.skipped[0].reason, "the property no longer exists");
        assert_eq!(r.skipped[0].external_id, "P1");
    }

    #[test]
    fn created_rows_untouched_since_are_removed() {
        let (remove, skipped) = removals(
            Side::Target,
            5,
            vec![(1, "A".into(), Some(5)), (2, "B".into(), Some(7))],
        );
        assert_eq!(remove, [1]);
        assert_eq!(
            skipped[0].reason,
            "created by run 5 but changed again since, by run 7"
        );
    }

    #[test]
    fn running_failed_rolled_back_and_cleanup_runs_are_refused() {
        let sync = Some(RunKind::Sync);
        assert_eq!(rollback_refusal(3, sync, "succeeded"), None);
        assert!(
            rollback_refusal(3, sync, "running")
                .unwrap()
                .contains("has not finished")
        );
        assert!(
            rollback_refusal(3, sync, "failed")
                .unwrap()
                .contains("changed nothing")
        );
        assert!(
            rollback_refusal(3, sync, "rolled_back")
                .unwrap()
                .contains("already rolled back")
        );
        assert!(
            rollback_refusal(3, Some(RunKind::Cleanup), "succeeded")
                .unwrap()
                .contains("is a cleanup")
        );
        assert!(
            can_roll_back(sync, "succeeded") && !can_roll_back(Some(RunKind::Cleanup), "succeeded")
        );
    }
}
