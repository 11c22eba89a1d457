//! What an import does with each record it reads (SPEC §4 "Import"), decided record by record
//! as the records come (never a list of every action: an import of a million records holds
//! one batch at a time): new → created, same hash → unchanged (not written), another hash →
//! updated (the stored version snapshotted first), a deleted one back → restored; a later
//! record of the same id supersedes an earlier one. The [`Planner`] hands out batches to write
//! (`store::source_rows` writes them) and says what a `full` import deletes.
use super::import_index::{DELETED, EXISTS, Entry, Index, NO_SLOT, Outcome, SEEN, Seen, Written};
use super::import_preview::PreviewNotes;
use super::stats::{ImportStats, RecordError};
use serde_json::Value;

/// `upsert` leaves records absent from the batch alone; `full` soft-deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImportMode {
    #[default]
    Upsert,
    Full,
}

impl ImportMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Upsert => "upsert",
            ImportMode::Full => "full",
        }
    }
}

impl std::str::FromStr for ImportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "upsert" => Ok(ImportMode::Upsert),
            "full" => Ok(ImportMode::Full),
            other => Err(format!(
                "unknown import mode {other:?}; expected upsert or full"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub mode: ImportMode,
    /// Reject the whole batch if any record is invalid.
    pub strict: bool,
    /// Compute the stats, write nothing.
    pub dry_run: bool,
    /// Let a `full` import delete more than the source's `max_delete_fraction`.
    pub force: bool,
}

/// `opts` with the `mode`, `strict` and `force` fields of an object input (`{"data": [...],
/// "mode": …}`), or the field that is wrong and why.
pub fn options_of(
    fields: &[(String, Value)],
    mut opts: ImportOptions,
) -> Result<ImportOptions, (String, String)> {
    let flag = |name: &str, value: &Value| {
        value.as_bool().ok_or_else(|| {
            (
                name.to_string(),
                format!("must be true or false, got {value}"),
            )
        })
    };
    for (name, value) in fields {
        match name.as_str() {
            // null: the default, as if the field were left out.
            "mode" | "strict" | "force" if value.is_null() => {}
            "mode" => {
                opts.mode = value
                    .as_str()
                    .ok_or_else(|| "must be \"upsert\" or \"full\"".to_string())
                    .and_then(str::parse)
                    .map_err(|e| ("mode".to_string(), e))?;
            }
            "strict" => opts.strict = flag(name, value)?,
            "force" => opts.force = flag(name, value)?,
            other => {
                return Err((
                    other.to_string(),
                    "unknown field; the body is {\"data\": [records], \"mode\": \"upsert\" | \
                     \"full\", \"strict\": true | false, \"force\": true | false} (all but \
                     data optional), or the records alone as an array"
                        .to_string(),
                ));
            }
        }
    }
    Ok(opts)
}

/// A record ready to be written.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub index: u64,
    pub external_id: String,
    pub text: String,
    pub hash: [u8; 32],
    /// sha256 of the bytes the record was read from (none for records handed over parsed).
    pub raw: Option<[u8; 32]>,
}

/// A record of a batch to write.
pub struct Pending {
    pub record: Parsed,
    /// Its slot in the index.
    pub slot: u32,
    /// Existing row to snapshot before the write.
    pub snapshot: Option<i64>,
    /// No row has this id: not in the source when the import began (imports of a source are
    /// serialised) and not written earlier by this import. Written by a plain `INSERT`,
    /// cheaper than an upsert.
    pub fresh: bool,
}

/// The planner of one import.
pub struct Planner {
    index: Index,
    batch: Vec<Option<PendingRecord>>,
    pub stats: ImportStats,
    /// Rejected records and records superseded by a later one with the same id.
    pub errors: Vec<RecordError>,
    /// What is written, while the source's index is to be kept after the import.
    written: Option<Written>,
    /// A dry run's records that would change, noted as they are decided.
    preview: Option<PreviewNotes>,
}

/// A record waiting in the batch (its slot is found when the batch is taken).
struct PendingRecord {
    record: Parsed,
    snapshot: Option<i64>,
    fresh: bool,
}

/// The first record of an id in this import, the same as the live one stored: nothing to write.
fn take_unchanged(entry: &mut Entry, stats: &mut ImportStats, index: u64) {
    entry.set_seen(Seen {
        index,
        outcome: Outcome::Unchanged,
        pending: None,
        written: false,
        snapshotted: false,
    });
    count(stats, Outcome::Unchanged, 1);
}

fn count(stats: &mut ImportStats, outcome: Outcome, delta: i64) {
    let slot = match outcome {
        Outcome::Created => &mut stats.created,
        Outcome::Updated => &mut stats.updated,
        Outcome::Restored => &mut stats.restored,
        Outcome::Unchanged => &mut stats.unchanged,
    };
    *slot = slot.wrapping_add_signed(delta);
}

impl Planner {
    /// A planner over the source's `index` (as stored before the import); `preview` notes the
    /// records a dry run would change.
    pub fn new(index: Index, preview: bool) -> Self {
        Planner {
            index,
            batch: Vec::new(),
            stats: ImportStats::default(),
            errors: Vec::new(),
            written: None,
            preview: preview.then(PreviewNotes::default),
        }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The index, to give it back (to the cache of kept indexes).
    pub fn take_index(&mut self) -> Index {
        std::mem::take(&mut self.index)
    }

    /// Notes what is written from now on, so the index can be kept after the import (or
    /// stops noting it: `false`).
    pub fn note_written(&mut self, on: bool) {
        self.written = on.then(Written::default);
    }

    pub fn notes_written(&self) -> bool {
        self.written.is_some()
    }

    /// The index and what was written, to write a batch (see `store::source_rows`).
    pub fn parts(&mut self) -> (&Index, Option<&mut Written>) {
        (&self.index, self.written.as_mut())
    }

    pub fn take_written(&mut self) -> Option<Written> {
        self.written.take()
    }

    pub fn take_preview(&mut self) -> Option<PreviewNotes> {
        self.preview.take()
    }

    /// Records waiting to be written.
    pub fn batch_len(&self) -> usize {
        self.batch.len()
    }

    /// A record that is not imported.
    pub fn reject(&mut self, err: RecordError) {
        self.stats.rejected += 1;
        self.errors.push(err);
    }

    /// A record byte-identical to the live one stored at `slot`, the first of its id in this
    /// import (the parser sees to both): unchanged, nothing to write. Anything else is a bug.
    pub fn accept_same(&mut self, index: u64, slot: u32) -> Result<(), String> {
        let entry = self
            .index
            .entry(slot)
            .filter(|e| e.flags & (EXISTS | DELETED | SEEN) == EXISTS)
            .ok_or_else(|| {
                format!(
                    "import: record {index} was passed on unparsed as the live record of slot \
                     {slot}, which is not one (a bug)"
                )
            })?;
        take_unchanged(entry, &mut self.stats, index);
        Ok(())
    }

    /// Decides a parsed record.
    pub fn accept(&mut self, record: Parsed) {
        let slot = self.index.slot_of(&record.external_id);
        let existing = self.index.existing(slot);
        let Some(entry) = self.index.entry(slot) else {
            unreachable!("slot_of gives a slot of the index");
        };
        let outcome = match existing {
            None => Outcome::Created,
            Some((_, _, true)) => Outcome::Restored,
            Some((_, hash, false)) if hash == record.hash => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        };
        let existing_id = existing.map(|e| e.0);
        let prev = entry.seen();
        if prev.is_none() && outcome == Outcome::Unchanged {
            return take_unchanged(entry, &mut self.stats, record.index);
        }
        // What earlier batches of this import did to the row: wrote it (then it must be
        // written again, even back to what the source had, and a plain insert would fail on
        // the unique key), snapshotted it (never twice).
        let (written, snapshotted) = prev
            .as_ref()
            .map_or((false, false), |p| (p.written, p.snapshotted));
        if let Some(prev) = prev {
            // Duplicate id in one import: the last one wins.
            self.errors.push(RecordError {
                index: prev.index,
                external_id: Some(record.external_id.clone()),
                reason: format!("superseded by record {} with the same id", record.index),
                superseded: true,
            });
            count(&mut self.stats, prev.outcome, -1);
            if let Some(slot) = prev.pending {
                // Not written yet: drop the earlier version from the batch.
                self.batch[slot] = None;
            }
        }
        let write = outcome != Outcome::Unchanged || written;
        let snapshot = write && existing_id.is_some() && !snapshotted;
        let fresh = existing.is_none() && !written;
        count(&mut self.stats, outcome, 1);
        if let Some(preview) = &mut self.preview {
            preview.note(&record.external_id, outcome, existing_id, &record.text);
        }
        let pending = write.then_some(self.batch.len());
        entry.set_seen(Seen {
            index: record.index,
            outcome,
            pending,
            written,
            snapshotted,
        });
        if write {
            self.batch.push(Some(PendingRecord {
                record,
                snapshot: if snapshot { existing_id } else { None },
                fresh,
            }));
        }
    }

    /// The batch to write now, each record with its slot (found once), and what it writes
    /// noted for the kept index.
    pub fn take_batch(&mut self) -> Vec<Pending> {
        let batch = std::mem::take(&mut self.batch);
        let mut out = Vec::with_capacity(batch.len());
        for p in batch.into_iter().flatten() {
            let slot = match self.index.find(&p.record.external_id) {
                Some(slot) => {
                    if let Some(entry) = self.index.entry(slot) {
                        entry.mark_written(p.snapshot.is_some());
                    }
                    if let Some(written) = &mut self.written {
                        let r = &p.record;
                        written.records.push((slot, r.hash, r.raw));
                    }
                    slot
                }
                None => NO_SLOT,
            };
            out.push(Pending {
                record: p.record,
                slot,
                snapshot: p.snapshot,
                fresh: p.fresh,
            });
        }
        out
    }

    /// Live records this `full` import did not mention, and the live count before it.
    pub fn missing_live(&self) -> (Vec<i64>, u64) {
        self.index.missing_live()
    }

    /// A `full` import deletes `missing` records: noted for a dry run's preview, counted, and
    /// the written index told (it must not keep the deleted ones live).
    pub fn delete_missing(&mut self, missing: &[i64]) {
        self.stats.deleted = missing.len() as u64;
        if let Some(preview) = &mut self.preview {
            preview.deleted(missing);
        }
        if let Some(written) = &mut self.written {
            written.deleted_missing = true;
        }
    }

    /// The rejected records (without the superseded ones).
    pub fn rejected(&self) -> impl Iterator<Item = &RecordError> {
        self.errors.iter().filter(|e| !e.superseded)
    }
}

/// Refuses a `full` import that would delete `missing` of `live` records, more than
/// `max_fraction` of them, unless forced: a broken scrape must not wipe a website.
pub fn full_guard(missing: usize, live: u64, max_fraction: f64, force: bool) -> Result<(), String> {
    let fraction = if live == 0 {
        0.0
    } else {
        missing as f64 / live as f64
    };
    if missing > 0 && fraction > max_fraction && !force {
        return Err(format!(
            "refusing a full import that would delete {} of {} live records ({:.0}%), more \
             than the source's max_delete_fraction of {:.0}%; check the input, or force it \
             (--force / \"force\": true), or raise config.max_delete_fraction",
            missing,
            live,
            fraction * 100.0,
            max_fraction * 100.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn h(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn parsed(index: u64, id: &str, hash: u8) -> Parsed {
        Parsed {
            index,
            external_id: id.into(),
            text: format!("{{\"id\":\"{id}\",\"v\":{hash}}}"),
            hash: h(hash),
            raw: None,
        }
    }

    /// A planner over stored records (external id, row id, hash, deleted).
    fn planner(stored: &[(&str, i64, u8, bool)]) -> Planner {
        let mut index = Index::default();
        for (id, row, hash, deleted) in stored {
            index.remember(id, *row, h(*hash), *deleted);
        }
        Planner::new(index, false)
    }

    fn batch(p: &mut Planner) -> Vec<(String, Option<i64>, bool)> {
        p.take_batch()
            .into_iter()
            .map(|b| (b.record.external_id, b.snapshot, b.fresh))
            .collect()
    }

    #[test]
    fn new_id_is_created_fresh_and_not_snapshotted() {
        let mut p = planner(&[]);
        p.accept(parsed(0, "A", 1));
        assert_eq!(p.stats.created, 1);
        assert_eq!(batch(&mut p), [("A".into(), None, true)]);
    }

    #[test]
    fn same_hash_is_unchanged_and_not_written() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 1));
        assert_eq!(p.stats.unchanged, 1);
        assert!(batch(&mut p).is_empty());
    }

    #[test]
    fn changed_hash_is_updated_and_snapshots_the_stored_row() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 2));
        assert_eq!(p.stats.updated, 1);
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
    }

    #[test]
    fn soft_deleted_id_is_restored_and_snapshotted() {
        let mut p = planner(&[("A", 7, 1, true)]);
        p.accept(parsed(0, "A", 1));
        assert_eq!(p.stats.restored, 1);
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
    }

    #[test]
    fn byte_identical_record_is_taken_unparsed() {
        let mut p = planner(&[("A", 7, 1, false)]);
        let slot = p.index().find("A").unwrap();
        p.accept_same(0, slot).unwrap();
        assert_eq!(p.stats.unchanged, 1);
        assert!(batch(&mut p).is_empty());
    }

    #[test]
    fn accept_same_on_a_seen_or_deleted_slot_is_a_bug() {
        let mut p = planner(&[("A", 7, 1, false), ("B", 8, 1, true)]);
        let (a, b) = (p.index().find("A").unwrap(), p.index().find("B").unwrap());
        p.accept(parsed(0, "A", 2));
        let err = p.accept_same(1, a).unwrap_err();
        assert!(err.contains("(a bug)"), "{err}");
        assert!(p.accept_same(2, b).is_err(), "a deleted record is not live");
    }

    #[test]
    fn duplicate_in_one_batch_drops_the_earlier_and_reports_superseded() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 2));
        p.accept(parsed(1, "A", 3));
        assert_eq!(p.stats.updated, 1);
        assert_eq!(p.errors.len(), 1);
        assert!(p.errors[0].superseded);
        assert_eq!(p.errors[0].index, 0);
        assert_eq!(
            p.errors[0].reason,
            "superseded by record 1 with the same id"
        );
        let b = p.take_batch();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].record.hash, h(3));
        assert_eq!(b[0].snapshot, Some(7));
    }

    #[test]
    fn duplicate_after_a_flush_writes_again_without_a_second_snapshot() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 2));
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
        p.accept(parsed(1, "A", 3));
        assert_eq!(batch(&mut p), [("A".into(), None, false)]);
        assert_eq!(p.stats.updated, 1);
    }

    #[test]
    fn duplicate_unchanged_then_changed_counts_one_update() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 1));
        p.accept(parsed(1, "A", 2));
        assert_eq!((p.stats.unchanged, p.stats.updated), (0, 1));
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
    }

    #[test]
    fn duplicate_changed_then_back_to_stored_rewrites_it() {
        let mut p = planner(&[("A", 7, 1, false)]);
        p.accept(parsed(0, "A", 2));
        assert_eq!(batch(&mut p).len(), 1, "the change is written");
        p.accept(parsed(1, "A", 1));
        let b = p.take_batch();
        assert_eq!(b.len(), 1, "the stored version is written back");
        assert_eq!((b[0].record.hash, b[0].snapshot), (h(1), None));
        assert_eq!((p.stats.updated, p.stats.unchanged), (0, 1));
    }

    #[test]
    fn new_id_written_then_twice_in_a_later_batch_is_upserted() {
        // Found by the reference model: the later batch's second record took the first's place
        // as a plain insert, and the import failed on the unique key.
        let mut p = planner(&[]);
        p.accept(parsed(0, "A", 1));
        assert_eq!(batch(&mut p), [("A".into(), None, true)]);
        p.accept(parsed(1, "A", 2));
        p.accept(parsed(2, "A", 3));
        assert_eq!(batch(&mut p), [("A".into(), None, false)]);
    }

    #[test]
    fn a_row_written_by_an_earlier_batch_is_not_snapshotted_again() {
        // Found by the reference model: a record replacing another of its id in a later batch
        // snapshotted the row a second time.
        let mut p = planner(&[("A", 7, 1, true)]);
        p.accept(parsed(0, "A", 1));
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
        p.accept(parsed(1, "A", 1));
        p.accept(parsed(2, "A", 2));
        assert_eq!(batch(&mut p), [("A".into(), None, false)]);
    }

    #[test]
    fn a_snapshot_of_an_earlier_batch_is_remembered_through_rewrites() {
        // Found by the reference model: written back, then replaced twice in one batch, the
        // record forgot that its row was snapshotted and snapshotted it again.
        let mut p = planner(&[("E", 7, 2, false)]);
        p.accept(parsed(0, "E", 1));
        assert_eq!(batch(&mut p), [("E".into(), Some(7), false)]);
        for (i, hash) in [(1, 2), (2, 1), (3, 1), (4, 1)] {
            p.accept(parsed(i, "E", hash));
        }
        assert_eq!(batch(&mut p), [("E".into(), None, false)]);
    }

    #[test]
    fn a_row_written_by_an_earlier_batch_is_written_back_to_the_stored_version() {
        // Found by the reference model: changed in one batch, then changed and changed back in
        // the next, the row kept the first batch's version while the stats said unchanged.
        let mut p = planner(&[("A", 7, 2, false)]);
        p.accept(parsed(0, "A", 0));
        assert_eq!(batch(&mut p), [("A".into(), Some(7), false)]);
        p.accept(parsed(1, "A", 1));
        p.accept(parsed(2, "A", 2));
        let b = p.take_batch();
        assert_eq!(b.len(), 1);
        assert_eq!(
            (b[0].record.hash, b[0].snapshot, b[0].fresh),
            (h(2), None, false)
        );
        assert_eq!(p.stats.unchanged, 1);
    }

    #[test]
    fn new_id_twice_stays_fresh_for_a_plain_insert() {
        let mut p = planner(&[]);
        p.accept(parsed(0, "A", 1));
        p.accept(parsed(1, "A", 2));
        assert_eq!(batch(&mut p), [("A".into(), None, true)]);
        // Once written, a later record of it is an upsert.
        p.accept(parsed(2, "A", 3));
        assert_eq!(batch(&mut p), [("A".into(), None, false)]);
        assert_eq!(p.stats.created, 1);
    }

    #[test]
    fn take_batch_splits_fresh_from_known_and_lists_snapshots() {
        let mut p = planner(&[("A", 7, 1, false), ("B", 8, 1, true)]);
        p.accept(parsed(0, "N", 1));
        p.accept(parsed(1, "A", 2));
        p.accept(parsed(2, "B", 1));
        let b = p.take_batch();
        let fresh: Vec<&str> = b
            .iter()
            .filter(|p| p.fresh)
            .map(|p| p.record.external_id.as_str())
            .collect();
        let snaps: Vec<i64> = b.iter().filter_map(|p| p.snapshot).collect();
        assert_eq!(fresh, ["N"]);
        assert_eq!(snaps, [7, 8]);
        for pending in &b {
            assert_eq!(
                Some(pending.slot),
                p.index().find(&pending.record.external_id)
            );
        }
        assert_eq!(p.batch_len(), 0);
    }

    #[test]
    fn full_guard_refuses_over_the_fraction_unless_forced() {
        let err = full_guard(6, 10, 0.5, false).unwrap_err();
        assert!(
            err.starts_with("refusing a full import that would delete 6 of 10 live records (60%)"),
            "{err}"
        );
        assert!(full_guard(6, 10, 0.5, true).is_ok());
        assert!(full_guard(5, 10, 0.5, false).is_ok());
        assert!(full_guard(0, 10, 0.0, false).is_ok());
    }

    #[test]
    fn full_guard_allows_an_empty_source() {
        assert!(full_guard(0, 0, 0.0, false).is_ok());
        let mut p = planner(&[("A", 7, 1, true)]);
        p.accept(parsed(0, "B", 1));
        assert_eq!(
            p.missing_live(),
            (vec![], 0),
            "a deleted record is not live"
        );
    }

    #[test]
    fn strict_rejection_leaves_out_superseded() {
        let mut p = planner(&[]);
        p.accept(parsed(0, "A", 1));
        p.accept(parsed(1, "A", 2));
        p.reject(RecordError {
            index: 2,
            external_id: None,
            reason: "no id".into(),
            superseded: false,
        });
        assert_eq!(p.errors.len(), 2);
        let rejected: Vec<u64> = p.rejected().map(|e| e.index).collect();
        assert_eq!(rejected, [2]);
        assert_eq!(p.stats.rejected, 1);
    }

    #[test]
    fn envelope_options_parse_and_refuse_unknown_fields() {
        let base = ImportOptions::default();
        let fields = vec![
            ("mode".to_string(), serde_json::json!("full")),
            ("strict".to_string(), serde_json::json!(true)),
            ("force".to_string(), Value::Null),
        ];
        let o = options_of(&fields, base).unwrap();
        assert_eq!((o.mode, o.strict, o.force), (ImportMode::Full, true, false));
        let (field, why) =
            options_of(&[("mode".into(), serde_json::json!("all"))], base).unwrap_err();
        assert_eq!(field, "mode");
        assert!(why.contains("expected upsert or full"), "{why}");
        let (field, _) = options_of(&[("strict".into(), serde_json::json!(1))], base).unwrap_err();
        assert_eq!(field, "strict");
        let (field, why) = options_of(&[("extra".into(), Value::Null)], base).unwrap_err();
        assert_eq!(field, "extra");
        assert!(why.starts_with("unknown field"), "{why}");
    }

    /// A small generator (xorshift), so the sequences are the same on every run.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The planner against a naive model of what an import must leave: for each id the last
    /// record's version, live; each stored row snapshotted at most once, and only if written;
    /// plain inserts only of ids no row has; stats that count each id once by its last record.
    #[test]
    fn planner_matches_a_naive_reference_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let ids = ["A", "B", "C", "D", "E", "F"];
        for round in 0..10_000 {
            // The source as stored: absent, live or deleted, with one of three versions.
            let mut stored = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                match rng.below(3) {
                    0 => {}
                    s => stored.push((*id, 100 + i as i64, rng.below(3) as u8, s == 2)),
                }
            }
            let mut p = planner(&stored);
            // The database: row id → (external id, hash, deleted); next row id.
            let mut db: HashMap<i64, (String, [u8; 32], bool)> = stored
                .iter()
                .map(|(id, row, hash, deleted)| (*row, (id.to_string(), h(*hash), *deleted)))
                .collect();
            let mut next_row = 1000;
            let mut snapshotted: HashSet<i64> = HashSet::new();
            let mut last: HashMap<&str, u8> = HashMap::new();
            let records = 1 + rng.below(12);
            let apply = |p: &mut Planner,
                         db: &mut HashMap<i64, (String, [u8; 32], bool)>,
                         snapshotted: &mut HashSet<i64>,
                         next_row: &mut i64| {
                for w in p.take_batch() {
                    let row = db
                        .iter()
                        .find(|(_, v)| v.0 == w.record.external_id)
                        .map(|(k, _)| *k);
                    if let Some(s) = w.snapshot {
                        assert!(
                            snapshotted.insert(s),
                            "round {round}: row {s} snapshotted twice"
                        );
                        assert_eq!(row, Some(s), "round {round}: a snapshot of another row");
                    }
                    if w.fresh {
                        assert!(
                            row.is_none(),
                            "round {round}: a plain insert of an existing id"
                        );
                    }
                    let row = row.unwrap_or_else(|| {
                        *next_row += 1;
                        *next_row
                    });
                    db.insert(row, (w.record.external_id.clone(), w.record.hash, false));
                }
            };
            for i in 0..records {
                let id = ids[rng.below(ids.len() as u64) as usize];
                let hash = rng.below(3) as u8;
                p.accept(parsed(i, id, hash));
                last.insert(id, hash);
                if rng.below(4) == 0 {
                    apply(&mut p, &mut db, &mut snapshotted, &mut next_row);
                }
            }
            apply(&mut p, &mut db, &mut snapshotted, &mut next_row);
            // What the import must leave.
            for (id, hash) in &last {
                let rows: Vec<_> = db.values().filter(|v| v.0 == *id).collect();
                assert_eq!(rows.len(), 1, "round {round}: {id} has one row");
                assert_eq!(
                    (rows[0].1, rows[0].2),
                    (h(*hash), false),
                    "round {round}: {id}"
                );
            }
            for (id, row, hash, deleted) in &stored {
                if !last.contains_key(id) {
                    assert_eq!(
                        db[row],
                        (id.to_string(), h(*hash), *deleted),
                        "round {round}"
                    );
                }
            }
            // Every stored row written was snapshotted once; no other.
            for (id, row, hash, deleted) in &stored {
                let written = db[row] != (id.to_string(), h(*hash), *deleted);
                if written {
                    assert!(
                        snapshotted.contains(row),
                        "round {round}: {id} written unsnapshotted"
                    );
                }
            }
            let mut want = ImportStats::default();
            for (id, hash) in &last {
                match stored.iter().find(|s| s.0 == *id) {
                    None => want.created += 1,
                    Some((_, _, _, true)) => want.restored += 1,
                    Some((_, _, h0, false)) if h0 == hash => want.unchanged += 1,
                    Some(_) => want.updated += 1,
                }
            }
            assert_eq!(p.stats, want, "round {round}");
            let superseded = p.errors.iter().filter(|e| e.superseded).count() as u64;
            assert_eq!(superseded, records - last.len() as u64, "round {round}");
        }
    }
}
