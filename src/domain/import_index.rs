//! The import's index of a source: external id → what the source held for it and what the
//! import did to it. An import of a million records holds a million entries, so they are kept
//! small: the ids live in one text buffer found through a table of 4-byte slots (no string
//! allocation per id), each id's state is 16 bytes, and the stored row (id and hash, 40 bytes)
//! is kept only for the ids the source already had.
use std::hash::BuildHasher;
use std::sync::Arc;

/// External ids, each at a slot (`0..len()`) in the order they were added.
#[derive(Default, Clone)]
pub(crate) struct Ids {
    text: Vec<u8>,
    /// Where each id ends in `text` (it starts where the one before ends).
    ends: Vec<usize>,
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
}

impl Ids {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn id<'t>(text: &'t [u8], ends: &[usize], slot: u32) -> &'t [u8] {
        let slot = slot as usize;
        let start = if slot == 0 { 0 } else { ends[slot - 1] };
        &text[start..ends[slot]]
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.ends.reserve(n);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table
            .reserve(n, |&slot| hasher.hash_one(Self::id(text, ends, slot)));
    }

    /// The slot of `id`.
    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id.as_bytes());
        self.table
            .find(hash, |&slot| {
                Self::id(&self.text, &self.ends, slot) == id.as_bytes()
            })
            .copied()
    }

    /// Adds `id`, which is not here yet; its slot.
    fn push(&mut self, id: &str) -> u32 {
        self.push_bytes(id.as_bytes())
    }

    fn push_bytes(&mut self, id: &[u8]) -> u32 {
        let slot = self.ends.len() as u32;
        self.text.extend_from_slice(id);
        self.ends.push(self.text.len());
        let hash = self.hasher.hash_one(id);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.insert_unique(hash, slot, |&slot| {
            hasher.hash_one(Self::id(text, ends, slot))
        });
        slot
    }

    /// These ids followed by `more`'s (whose slots move up by `len()`).
    fn extended(&self, more: &Ids) -> Ids {
        let mut ids = self.clone();
        ids.reserve(more.len());
        for slot in 0..more.len() as u32 {
            ids.push_bytes(Self::id(&more.text, &more.ends, slot));
        }
        ids
    }

    /// Bytes held, roughly.
    fn bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 8 + self.table.capacity() * 5
    }
}

/// Raw-bytes hash → slot of the source's live records whose stored `raw_hash` is still valid:
/// a record read with these exact bytes again is unchanged and needs no parsing.
pub(crate) type KnownRaw = std::collections::HashMap<[u8; 32], u32, foldhash::fast::RandomState>;

pub(crate) const EXISTS: u8 = 1;
pub(crate) const DELETED: u8 = 2;
pub(crate) const SEEN: u8 = 4;
/// A batch of this import snapshotted the stored row.
const SNAPSHOTTED: u8 = 8;
const OUTCOME_SHIFT: u8 = 4;
const OUTCOME_MASK: u8 = 3;
/// A batch of this import wrote the row.
const WRITTEN: u8 = 64;
pub(crate) const NO_SLOT: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Created,
    Updated,
    Restored,
    Unchanged,
}

/// What the import did to one id, and whether the source had it.
pub(crate) struct Entry {
    /// The record (its index in the input) this import took for the id (when `SEEN`).
    index: u64,
    /// Its position in the unwritten batch, or `NO_SLOT`.
    pub(crate) pending: u32,
    /// `EXISTS`, `DELETED`, `SEEN`, `SNAPSHOTTED`, `WRITTEN`, and the outcome in bits 4-5.
    pub(crate) flags: u8,
}

/// The import's view of a seen id.
pub(crate) struct Seen {
    pub(crate) index: u64,
    pub(crate) outcome: Outcome,
    /// Position in the unwritten batch, while it is unwritten.
    pub(crate) pending: Option<usize>,
    /// A batch of this import wrote the row (so it differs from what the source had)…
    pub(crate) written: bool,
    /// …and snapshotted the stored row first (never twice in one import).
    pub(crate) snapshotted: bool,
}

impl Entry {
    fn new(flags: u8) -> Self {
        Entry {
            index: 0,
            pending: NO_SLOT,
            flags,
        }
    }

    pub(crate) fn seen(&self) -> Option<Seen> {
        (self.flags & SEEN != 0).then(|| Seen {
            index: self.index,
            outcome: match (self.flags >> OUTCOME_SHIFT) & OUTCOME_MASK {
                0 => Outcome::Created,
                1 => Outcome::Updated,
                2 => Outcome::Restored,
                _ => Outcome::Unchanged,
            },
            pending: (self.pending != NO_SLOT).then_some(self.pending as usize),
            written: self.flags & WRITTEN != 0,
            snapshotted: self.flags & SNAPSHOTTED != 0,
        })
    }

    /// Takes the import's decision for the id (what batches wrote stays as it was: see
    /// `mark_written`).
    pub(crate) fn set_seen(&mut self, seen: Seen) {
        self.index = seen.index;
        self.pending = seen.pending.map_or(NO_SLOT, |slot| slot as u32);
        let outcome = match seen.outcome {
            Outcome::Created => 0,
            Outcome::Updated => 1,
            Outcome::Restored => 2,
            Outcome::Unchanged => 3,
        };
        self.flags = (self.flags & (EXISTS | DELETED | WRITTEN | SNAPSHOTTED))
            | SEEN
            | (outcome << OUTCOME_SHIFT);
    }

    /// A batch wrote the row (after snapshotting it, if `snapshotted`): it is no longer
    /// pending.
    pub(crate) fn mark_written(&mut self, snapshotted: bool) {
        self.pending = NO_SLOT;
        self.flags |= WRITTEN | if snapshotted { SNAPSHOTTED } else { 0 };
    }
}

/// A row the source had: its id and hash.
#[derive(Clone, Copy)]
struct Row {
    id: i64,
    hash: [u8; 32],
}

/// What a source holds, as an import reads it before deciding anything: its ids, their rows,
/// which are soft-deleted, and the raw hashes of the live ones. Kept between imports by a
/// long-running server (`index_cache`) so that the next import of the source need not read it.
pub(crate) struct Stored {
    pub(crate) ids: Arc<Ids>,
    rows: Vec<Row>,
    /// `EXISTS | DELETED` bits of each slot.
    flags: Vec<u8>,
    pub(crate) raw: Arc<KnownRaw>,
}

impl Stored {
    /// Bytes held, roughly.
    pub(crate) fn bytes(&self) -> usize {
        self.ids.bytes()
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + self.flags.capacity()
            + self.raw.capacity() * (std::mem::size_of::<([u8; 32], u32)>() + 1)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Bytes an import that keeps its index needs per record, roughly (ids of about 12 bytes): the
/// `Stored` it leaves (about 120) and, while it runs, what it notes of every record it writes
/// (`Written`, about 90). An import stops noting (and keeps nothing) once its index would take
/// more than the cache may hold, so a big import costs at most the cache's size on top.
pub(crate) const KEEP_BYTES_PER_RECORD: usize = 210;

/// What an import wrote, in order, for [`Index::after`].
#[derive(Default)]
pub(crate) struct Written {
    /// Slot, hash and raw hash of each record written; a later one of a slot replaces an
    /// earlier one.
    pub(crate) records: Vec<(u32, [u8; 32], Option<[u8; 32]>)>,
    /// The row id of each record inserted, by slot.
    pub(crate) created: Vec<(u32, i64)>,
    /// The live rows that no record had were soft-deleted (a `full` import).
    pub(crate) deleted_missing: bool,
}

/// External id → entry. The ids read from the database come first (slots `0..`) and are
/// shared with the parser once read (`freeze`); ids new to the source go to `added` (slots
/// after them).
#[derive(Default)]
pub(crate) struct Index {
    loaded: Arc<Ids>,
    added: Ids,
    entries: Vec<Entry>,
    /// The stored rows of the loaded ids, by slot.
    rows: Vec<Row>,
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.added.reserve(n);
        self.entries.reserve(n);
    }

    pub(crate) fn clear(&mut self) {
        *self = Index::default();
    }

    /// The index of what `stored` holds, as `remember` and `freeze` would have made it.
    pub(crate) fn from_stored(stored: &Stored) -> Self {
        Index {
            loaded: stored.ids.clone(),
            added: Ids::default(),
            entries: stored
                .flags
                .iter()
                .map(|&flags| Entry::new(flags))
                .collect(),
            rows: stored.rows.clone(),
        }
    }

    /// What the source holds once the import's writes (`written`) are committed, given the raw
    /// hashes it held before (`raw`); `None` if `written` does not give a row id to every id
    /// this import added (then nothing should be kept).
    pub(crate) fn after(&self, raw: &Arc<KnownRaw>, written: &Written) -> Option<Stored> {
        let (loaded, n) = (self.loaded.len(), self.entries.len());
        if written.records.is_empty() && !written.deleted_missing && n == loaded {
            // Nothing written: what was loaded, its raw hashes shared.
            return Some(Stored {
                ids: self.loaded.clone(),
                rows: self.rows.clone(),
                flags: self
                    .entries
                    .iter()
                    .map(|e| e.flags & (EXISTS | DELETED))
                    .collect(),
                raw: raw.clone(),
            });
        }
        let mut rows = self.rows.clone();
        rows.resize(
            n,
            Row {
                id: 0,
                hash: [0; 32],
            },
        );
        let mut flags: Vec<u8> = self
            .entries
            .iter()
            .map(|e| e.flags & (EXISTS | DELETED))
            .collect();
        let mut is_written = vec![false; n];
        for &(slot, hash, _) in &written.records {
            let slot = slot as usize;
            *is_written.get_mut(slot)? = true;
            rows[slot].hash = hash;
            flags[slot] = EXISTS;
        }
        let mut has_id = vec![false; n - loaded];
        for &(slot, id) in &written.created {
            let slot = slot as usize;
            *has_id.get_mut(slot.checked_sub(loaded)?)? = true;
            rows[slot].id = id;
        }
        if has_id.contains(&false) || !is_written[loaded..].iter().all(|&w| w) {
            return None;
        }
        if written.deleted_missing {
            for (slot, entry) in self.entries[..loaded].iter().enumerate() {
                if entry.flags & (EXISTS | DELETED | SEEN) == EXISTS {
                    flags[slot] |= DELETED;
                }
            }
        }
        // The raw hashes of what was left alone, and of the last version written of each slot.
        let mut known: KnownRaw = raw
            .iter()
            .filter(|&(_, &slot)| {
                let slot = slot as usize;
                !is_written[slot] && flags[slot] & DELETED == 0
            })
            .map(|(raw, slot)| (*raw, *slot))
            .collect();
        let mut last = vec![false; n];
        for &(slot, _, raw) in written.records.iter().rev() {
            if !std::mem::replace(&mut last[slot as usize], true)
                && let Some(raw) = raw
            {
                known.insert(raw, slot);
            }
        }
        let ids = if n == loaded {
            self.loaded.clone()
        } else {
            Arc::new(self.loaded.extended(&self.added))
        };
        Some(Stored {
            ids,
            rows,
            flags,
            raw: Arc::new(known),
        })
    }

    /// Takes in a row the source holds (while loading, before `freeze`); its slot.
    pub(crate) fn remember(
        &mut self,
        external_id: &str,
        id: i64,
        hash: [u8; 32],
        deleted: bool,
    ) -> u32 {
        debug_assert!(
            self.loaded.is_empty(),
            "rows are remembered before the freeze"
        );
        let slot = self.added.push(external_id);
        debug_assert_eq!(slot as usize, self.rows.len());
        self.rows.push(Row { id, hash });
        self.entries
            .push(Entry::new(EXISTS | if deleted { DELETED } else { 0 }));
        slot
    }

    /// Ends the loading: the ids so far become the shared `loaded` ones.
    pub(crate) fn freeze(&mut self) -> Arc<Ids> {
        debug_assert!(self.loaded.is_empty(), "an index is frozen once");
        self.loaded = Arc::new(std::mem::take(&mut self.added));
        self.loaded.clone()
    }

    pub(crate) fn find(&self, external_id: &str) -> Option<u32> {
        self.loaded.get(external_id).or_else(|| {
            self.added
                .get(external_id)
                .map(|slot| slot + self.loaded.len() as u32)
        })
    }

    pub(crate) fn entry(&mut self, slot: u32) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize)
    }

    /// The slot of `external_id`, added if new.
    pub(crate) fn slot_of(&mut self, external_id: &str) -> u32 {
        match self.find(external_id) {
            Some(slot) => slot,
            None => {
                self.added.push(external_id);
                self.entries.push(Entry::new(0));
                (self.entries.len() - 1) as u32
            }
        }
    }

    /// The row the source had at `slot`: (id, hash, soft-deleted).
    pub(crate) fn existing(&self, slot: u32) -> Option<(i64, [u8; 32], bool)> {
        let entry = self.entries.get(slot as usize)?;
        let row = self.rows.get(slot as usize)?;
        (entry.flags & EXISTS != 0).then_some((row.id, row.hash, entry.flags & DELETED != 0))
    }

    /// The ids of the live rows no record of this import had, and how many live rows there
    /// were.
    pub(crate) fn missing_live(&self) -> (Vec<i64>, u64) {
        let mut live = 0;
        let mut missing = Vec::new();
        for (entry, row) in self.entries.iter().zip(&self.rows) {
            if entry.flags & (EXISTS | DELETED) == EXISTS {
                live += 1;
                if entry.flags & SEEN == 0 {
                    missing.push(row.id);
                }
            }
        }
        missing.sort_unstable();
        (missing, live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_find_their_slots() {
        let mut ids = Ids::default();
        let names: Vec<String> = (0..5000).map(|i| format!("P{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(ids.push(n), i as u32);
        }
        ids.push("");
        ids.push("é😀");
        for (i, n) in names.iter().enumerate() {
            assert_eq!(ids.get(n), Some(i as u32), "{n}");
        }
        assert_eq!(ids.get(""), Some(5000));
        assert_eq!(ids.get("é😀"), Some(5001));
        assert_eq!(ids.get("P5000"), None);
        assert_eq!(ids.get("P1 "), None);
    }

    #[test]
    fn loaded_and_added_slots_follow_each_other() {
        let mut index = Index::default();
        assert_eq!(index.remember("A", 10, [1; 32], false), 0);
        assert_eq!(index.remember("B", 11, [2; 32], true), 1);
        let shared = index.freeze();
        assert_eq!(shared.get("B"), Some(1));
        assert_eq!(index.slot_of("C"), 2);
        assert_eq!(index.slot_of("A"), 0);
        assert_eq!(index.slot_of("C"), 2);
        assert_eq!(index.existing(0), Some((10, [1; 32], false)));
        assert_eq!(index.existing(1), Some((11, [2; 32], true)));
        assert_eq!(index.existing(2), None);
        assert_eq!(index.find("D"), None);
        assert_eq!(index.missing_live(), (vec![10], 1));
        index.entry(0).unwrap().set_seen(Seen {
            index: 3,
            outcome: Outcome::Unchanged,
            pending: None,
            written: false,
            snapshotted: false,
        });
        assert_eq!(index.missing_live(), (vec![], 1));
        let a = index.find("A").unwrap();
        assert_eq!(index.entry(a).unwrap().seen().unwrap().index, 3);
    }
}
