//! The import's index of a source: external id → what the source held for it and what the
//! import did to it. An import of a million records holds a million entries, so they are kept
//! small: the ids live in one text buffer found through a table of 4-byte slots (no string
//! allocation per id), each id's state is 16 bytes, and the stored row (id and hash, 40 bytes)
//! is kept only for the ids the source already had.
use std::hash::BuildHasher;
use std::sync::Arc;

/// External ids, each at a slot (`0..len()`) in the order they were added.
#[derive(Default)]
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
        let slot = self.ends.len() as u32;
        self.text.extend_from_slice(id.as_bytes());
        self.ends.push(self.text.len());
        let hash = self.hasher.hash_one(id.as_bytes());
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.insert_unique(hash, slot, |&slot| {
            hasher.hash_one(Self::id(text, ends, slot))
        });
        slot
    }
}

pub(crate) const EXISTS: u8 = 1;
pub(crate) const DELETED: u8 = 2;
pub(crate) const SEEN: u8 = 4;
const SNAPSHOTTED: u8 = 8;
const OUTCOME_SHIFT: u8 = 4;
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
    /// `EXISTS`, `DELETED`, `SEEN`, `SNAPSHOTTED`, and the outcome in the top bits.
    pub(crate) flags: u8,
}

/// The import's view of a seen id.
pub(crate) struct Seen {
    pub(crate) index: u64,
    pub(crate) outcome: Outcome,
    /// Position in the unwritten batch, while it is unwritten.
    pub(crate) pending: Option<usize>,
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
            outcome: match self.flags >> OUTCOME_SHIFT {
                0 => Outcome::Created,
                1 => Outcome::Updated,
                2 => Outcome::Restored,
                _ => Outcome::Unchanged,
            },
            pending: (self.pending != NO_SLOT).then_some(self.pending as usize),
            snapshotted: self.flags & SNAPSHOTTED != 0,
        })
    }

    pub(crate) fn set_seen(&mut self, seen: Seen) {
        self.index = seen.index;
        self.pending = seen.pending.map_or(NO_SLOT, |slot| slot as u32);
        let outcome = match seen.outcome {
            Outcome::Created => 0,
            Outcome::Updated => 1,
            Outcome::Restored => 2,
            Outcome::Unchanged => 3,
        };
        let snapshotted = if seen.snapshotted { SNAPSHOTTED } else { 0 };
        self.flags =
            (self.flags & (EXISTS | DELETED)) | SEEN | snapshotted | (outcome << OUTCOME_SHIFT);
    }
}

/// A row the source had: its id and hash.
#[derive(Clone, Copy)]
struct Row {
    id: i64,
    hash: [u8; 32],
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

    pub(crate) fn get_mut(&mut self, external_id: &str) -> Option<&mut Entry> {
        self.find(external_id)
            .map(|slot| &mut self.entries[slot as usize])
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
            snapshotted: false,
        });
        assert_eq!(index.missing_live(), (vec![], 1));
        assert_eq!(index.get_mut("A").unwrap().seen().unwrap().index, 3);
    }
}
