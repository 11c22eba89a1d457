//! What a dry-run import shows of the records it would change, record by record: deleted,
//! changed (with the fields that would change) and brought back ones first (the first
//! [`SHOWN`] of each), then new ones (the first [`SHOWN_NEW`]); each with its title, so that
//! people see listings and not only ids.
use crate::domain::diff::field_changes;
use crate::domain::import_index::Outcome;
use crate::domain::title::title_of;
use crate::entity::source_properties;
use crate::error::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
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

struct Noted {
    external_id: String,
    action: &'static str,
    /// The stored row it changes, if any.
    existing: Option<i64>,
    /// The new canonical text (none for a deletion).
    text: Option<String>,
}

/// The records noted while a dry run classifies them.
#[derive(Default)]
pub(super) struct Preview {
    noted: Vec<Option<Noted>>,
    at: HashMap<String, usize>,
    /// How many of `noted` are new, and how many changed or brought back.
    new: usize,
    changed: usize,
    deleted: Vec<Noted>,
}

impl Preview {
    /// A record classified as `outcome` (a later record of the same id replaces it).
    pub(super) fn note(
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
    pub(super) fn deleted(&mut self, ids: &[i64]) {
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

    /// The listed records, with the stored versions they change read from `conn`.
    pub(super) async fn finish(
        self,
        conn: &impl ConnectionTrait,
    ) -> AppResult<Vec<PreviewedRecord>> {
        // Deleted, then changed and brought back, then new: what needs a look first.
        let (new, changed): (Vec<Noted>, Vec<Noted>) = self
            .noted
            .into_iter()
            .flatten()
            .partition(|n| n.action == "created");
        let noted: Vec<Noted> = self.deleted.into_iter().chain(changed).chain(new).collect();
        let ids: Vec<i64> = noted.iter().filter_map(|n| n.existing).collect();
        let mut stored: HashMap<i64, (String, Map<String, Value>)> = HashMap::new();
        for chunk in ids.chunks(500) {
            for row in source_properties::Entity::find()
                .filter(source_properties::Column::Id.is_in(chunk.iter().copied()))
                .all(conn)
                .await?
            {
                stored.insert(row.id, (row.external_id, super::parse_object(&row.data)));
            }
        }
        let empty = Map::new();
        Ok(noted
            .into_iter()
            .map(|n| {
                let old = n.existing.and_then(|id| stored.get(&id));
                let new = n.text.as_deref().map(super::parse_object);
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
            .collect())
    }
}
