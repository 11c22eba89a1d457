//! What a dry-run import shows of the records it would change, record by record: deleted,
//! changed (with the fields that would change) and brought back ones first (the first
//! [`SHOWN`] of each), then new ones (the first [`SHOWN_NEW`]); each with its title, so that
//! people see listings and not only ids.
use super::diff::field_changes;
use super::import_index::Outcome;
use super::title::title_of;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Deleted, and changed or brought back records listed at most, each (the counts cover all).
pub const SHOWN: usize = 200;
/// New records listed at most.
pub const SHOWN_NEW: usize = 50;

/// One record a dry-run import would change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PreviewedRecord {
    pub external_id: String,
    /// `created`, `updated`, `restored` or `deleted`.
    pub action: &'static str,
    pub title: Option<String>,
    /// The top-level fields (or `object.field`) that would change, for updated and restored
    /// records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

pub struct Noted {
    pub external_id: String,
    pub action: &'static str,
    /// The stored row it changes, if any.
    pub existing: Option<i64>,
    /// The new canonical text (none for a deletion).
    pub text: Option<String>,
}

/// The records noted while a dry run classifies them.
#[derive(Default)]
pub struct PreviewNotes {
    noted: Vec<Option<Noted>>,
    at: HashMap<String, usize>,
    /// How many of `noted` are new, and how many changed or brought back.
    new: usize,
    changed: usize,
    deleted: Vec<Noted>,
}

impl PreviewNotes {
    /// A record classified as `outcome` (a later record of the same id replaces it).
    pub(crate) fn note(
        &mut self,
        external_id: &str,
        outcome: Outcome,
        existing: Option<i64>,
        text: &str,
    ) {
        let action = match outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Restored => "restored",
            Outcome::Unchanged => {
                if let Some(i) = self.at.remove(external_id) {
                    self.noted[i] = None;
                }
                return;
            }
        };
        let noted = Noted {
            external_id: external_id.to_string(),
            action,
            existing,
            text: Some(text.to_string()),
        };
        let (count, cap) = if action == "created" {
            (&mut self.new, SHOWN_NEW)
        } else {
            (&mut self.changed, SHOWN)
        };
        match self.at.get(external_id) {
            Some(&i) => self.noted[i] = Some(noted),
            None if *count < cap => {
                *count += 1;
                self.at.insert(external_id.to_string(), self.noted.len());
                self.noted.push(Some(noted));
            }
            None => {}
        }
    }

    /// Stored records a full import would delete (the first [`SHOWN`] of them).
    pub fn deleted(&mut self, ids: &[i64]) {
        self.deleted = ids
            .iter()
            .take(SHOWN)
            .map(|&id| Noted {
                external_id: String::new(),
                action: "deleted",
                existing: Some(id),
                text: None,
            })
            .collect();
    }

    /// The noted records in the order they are shown: deleted, then changed and brought back,
    /// then new (what needs a look first).
    pub fn into_noted(self) -> Vec<Noted> {
        let (new, changed): (Vec<Noted>, Vec<Noted>) = self
            .noted
            .into_iter()
            .flatten()
            .partition(|n| n.action == "created");
        self.deleted.into_iter().chain(changed).chain(new).collect()
    }
}

fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// What the noted records show, given the stored versions they change (`stored`: by row id,
/// its external id and data).
pub fn describe(
    noted: Vec<Noted>,
    stored: &HashMap<i64, (String, Map<String, Value>)>,
) -> Vec<PreviewedRecord> {
    let empty = Map::new();
    noted
        .into_iter()
        .map(|n| {
            let old = n.existing.and_then(|id| stored.get(&id));
            let new = n.text.as_deref().map(object);
            let fields = match (n.action, old, &new) {
                ("updated" | "restored", Some((_, old)), Some(new)) => field_changes(old, new)
                    .into_iter()
                    .map(|c| c.field)
                    .collect(),
                _ => Vec::new(),
            };
            let external_id = match (n.external_id.is_empty(), old) {
                (true, Some((id, _))) => id.clone(),
                _ => n.external_id,
            };
            let title = title_of(new.as_ref().or(old.map(|o| &o.1)).unwrap_or(&empty));
            PreviewedRecord {
                external_id,
                action: n.action,
                title,
                fields,
            }
        })
        .collect()
}
