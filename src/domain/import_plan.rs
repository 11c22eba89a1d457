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
        let fresh = existing.is_none() && prev.as_ref().is_none_or(|p| p.pending.is_some());
        let already_snapshotted = prev
            .as_ref()
            .is_some_and(|s| s.snapshotted && s.pending.is_none());
        let (write, snapshot) = match prev {
            None => (outcome != Outcome::Unchanged, outcome != Outcome::Created),
            Some(prev) => {
                // Duplicate id in one batch: the last one wins.
                self.errors.push(RecordError {
                    index: prev.index,
                    external_id: Some(record.external_id.clone()),
                    reason: format!("superseded by record {} with the same id", record.index),
                    superseded: true,
                });
                count(&mut self.stats, prev.outcome, -1);
                if let Some(slot) = prev.pending {
                    // Not written yet: drop the earlier version from the batch.
                    let earlier = self.batch[slot].take();
                    let snapshotted = earlier.is_some_and(|p| p.snapshot.is_some());
                    (
                        outcome != Outcome::Unchanged,
                        snapshotted
                            || (outcome != Outcome::Created && outcome != Outcome::Unchanged),
                    )
                } else {
                    // The stored version is the existing one if the earlier record left it
                    // alone, else the earlier record's (written again, in case they differ).
                    (
                        outcome != Outcome::Unchanged || prev.outcome != Outcome::Unchanged,
                        !prev.snapshotted && existing_id.is_some(),
                    )
                }
            }
        };
        count(&mut self.stats, outcome, 1);
        if let Some(preview) = &mut self.preview {
            preview.note(&record.external_id, outcome, existing_id, &record.text);
        }
        let pending = write.then_some(self.batch.len());
        entry.set_seen(Seen {
            index: record.index,
            outcome,
            pending,
            snapshotted: already_snapshotted || (write && snapshot),
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
                        entry.pending = NO_SLOT;
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
