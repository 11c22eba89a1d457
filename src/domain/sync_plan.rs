//! What a sync does with each pair of a source record and a target record (SPEC §4 "Sync"),
//! decided from their hashes alone ([`decide`]), and, for a hand-edited target record whose
//! source changed, from their data under the target's conflict policy ([`resolve`]). Pure:
//! the rows come in, the plan goes out; `store::target_rows` reads the one and applies the
//! other.
use super::canonical::Canonical;
use super::kinds::{ConflictPolicy, DeletePolicy};
use super::merge::{FieldConflict, differing_fields, three_way_merge};
use super::stats::{PlannedAction, SyncAction, SyncStats};
use super::warning::WarningKind;
use super::words::fields_in_words;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// A source record as a sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub id: i64,
    pub external_id: String,
    pub hash: String,
    pub deleted: bool,
}

/// The target record of the same external id, as a sync reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    pub id: i64,
    pub source_property_id: Option<i64>,
    pub hash: String,
    pub synced_hash: Option<String>,
    pub deleted: bool,
}

/// A hand-edited target record whose source changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    pub target_id: i64,
    pub source_id: i64,
    pub external_id: String,
    pub source_hash: String,
}

/// A warning a sync raises (stored unless it is a dry run).
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: WarningKind,
    pub target_property_id: i64,
    pub external_id: String,
    pub source_hash: Option<String>,
    pub message: String,
    pub fields: Vec<FieldConflict>,
}

/// The new state of a hand-edited target record after its clash was handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClashWrite {
    pub target_id: i64,
    pub source_property_id: i64,
    pub data: String,
    pub hash: String,
    pub synced_hash: String,
    pub base: Option<String>,
}

/// What a sync will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncPlan {
    pub stats: SyncStats,
    /// Every action, in the order of the candidates; unchanged records are not listed.
    pub actions: Vec<PlannedAction>,
    /// Source records to copy into new target records.
    pub creates: Vec<i64>,
    /// Target records to overwrite with their source record (updated, or brought back).
    pub copies: Vec<i64>,
    /// Target records to soft-delete.
    pub deletes: Vec<i64>,
    /// Hand-edited target records whose source changed: [`resolve`] decides.
    pub clashes: Vec<Clash>,
    /// What `resolve` decided for the clashes.
    pub clash_writes: Vec<ClashWrite>,
    pub drafts: Vec<Draft>,
}

fn action(external_id: &str, action: SyncAction) -> PlannedAction {
    PlannedAction {
        external_id: external_id.to_string(),
        action,
        fields: vec![],
    }
}

/// Decides every candidate pair (`in_sync`: how many live pairs the database found already in
/// step, counted as unchanged). Clashes are left to [`resolve`].
pub fn decide(
    candidates: &[(SourceRow, Option<TargetRow>)],
    in_sync: u64,
    delete_policy: DeletePolicy,
) -> SyncPlan {
    let mut p = SyncPlan {
        stats: SyncStats {
            unchanged: in_sync,
            ..Default::default()
        },
        ..Default::default()
    };
    for (s, t) in candidates {
        let Some(t) = t else {
            if !s.deleted {
                p.creates.push(s.id);
                p.stats.created += 1;
                p.actions.push(action(&s.external_id, SyncAction::Create));
            }
            continue;
        };
        let manual = super::drift::differs_from_sync(&t.hash, t.synced_hash.as_deref());
        if t.deleted {
            if !s.deleted {
                p.copies.push(t.id);
                p.stats.updated += 1;
                p.actions.push(action(&s.external_id, SyncAction::Restore));
            }
        } else if s.deleted {
            match delete_policy {
                // A record whose deletion was declined (warning resolved keep_target) is
                // detached from its source and stays.
                _ if t.source_property_id != Some(s.id) => p.stats.unchanged += 1,
                DeletePolicy::Ignore => p.stats.unchanged += 1,
                DeletePolicy::Mark => {
                    p.deletes.push(t.id);
                    p.stats.deleted += 1;
                    p.actions.push(action(&s.external_id, SyncAction::Delete));
                    if manual {
                        p.drafts.push(Draft {
                            kind: WarningKind::DeletedManual,
                            target_property_id: t.id,
                            external_id: s.external_id.clone(),
                            source_hash: Some(s.hash.clone()),
                            message: format!(
                                "{:?} was deleted in the source and removed from the target, \
                                 losing its manual edits (restore them with keep_target)",
                                s.external_id
                            ),
                            fields: vec![],
                        });
                    }
                }
            }
        } else if !manual || t.hash == s.hash {
            // (Pairs whose source did not change since the last sync were counted as
            // unchanged by the database: a manual edit on them survives.)
            p.copies.push(t.id);
            p.stats.updated += 1;
            p.actions.push(action(&s.external_id, SyncAction::Update));
        } else {
            p.clashes.push(Clash {
                target_id: t.id,
                source_id: s.id,
                external_id: s.external_id.clone(),
                source_hash: s.hash.clone(),
            });
        }
    }
    p
}

/// The data the clashes are decided on: each source record's data, and each target record's
/// data and merge base, by id.
#[derive(Debug, Clone, Default)]
pub struct ClashTexts {
    pub source: HashMap<i64, String>,
    pub target: HashMap<i64, (String, Option<String>)>,
}

fn fields_of(
    diff: Vec<(String, Option<Value>, Option<Value>)>,
    base: &Map<String, Value>,
) -> Vec<FieldConflict> {
    diff.into_iter()
        .map(|(field, source, target)| FieldConflict {
            base: base.get(&field).cloned(),
            field,
            source,
            target,
        })
        .collect()
}

fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Decides the clashes under `policy`: merge field by field (keeping the target's value of a
/// field changed on both sides, with a warning), keep the target (a warning), or overwrite it
/// (a warning; the old version is snapshotted when the plan is applied).
pub fn resolve(p: &mut SyncPlan, policy: ConflictPolicy, texts: &ClashTexts) {
    for c in std::mem::take(&mut p.clashes) {
        let s_text = texts.source.get(&c.source_id).cloned().unwrap_or_default();
        let (t_text, base_text) = texts.target.get(&c.target_id).cloned().unwrap_or_default();
        let (s, t) = (object(&s_text), object(&t_text));
        // Without a recorded base every differing field counts as changed on both sides, so
        // nothing hand-edited is ever taken for unchanged.
        let base = base_text.as_deref().map(object).unwrap_or_default();
        match policy {
            ConflictPolicy::Merge => {
                let outcome = three_way_merge(&base, &s, &t);
                let merged = Canonical::of(&Value::Object(outcome.merged));
                let fields: Vec<String> =
                    outcome.conflicts.iter().map(|f| f.field.clone()).collect();
                if merged.hash == Canonical::of(&Value::Object(t.clone())).hash {
                    p.stats.unchanged += 1;
                } else {
                    p.stats.updated += 1;
                }
                p.actions.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::Merge,
                    fields,
                });
                if !outcome.conflicts.is_empty() {
                    let names: Vec<&str> =
                        outcome.conflicts.iter().map(|f| f.field.as_str()).collect();
                    p.drafts.push(Draft {
                        kind: WarningKind::Conflict,
                        target_property_id: c.target_id,
                        external_id: c.external_id.clone(),
                        source_hash: Some(c.source_hash.clone()),
                        message: format!(
                            "{:?}: {} changed both in the source and by hand on the target; \
                             the target's values were kept",
                            c.external_id,
                            fields_in_words(&names)
                        ),
                        fields: outcome.conflicts,
                    });
                }
                let base = (merged.hash != c.source_hash).then(|| s_text.clone());
                p.clash_writes.push(ClashWrite {
                    target_id: c.target_id,
                    source_property_id: c.source_id,
                    data: merged.text,
                    hash: merged.hash,
                    synced_hash: c.source_hash.clone(),
                    base,
                });
            }
            ConflictPolicy::KeepTarget => {
                p.stats.unchanged += 1;
                let fields = fields_of(differing_fields(&s, &t), &base);
                p.actions.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::KeepTarget,
                    fields: fields.iter().map(|f| f.field.clone()).collect(),
                });
                p.drafts.push(Draft {
                    kind: WarningKind::KeptTarget,
                    target_property_id: c.target_id,
                    external_id: c.external_id.clone(),
                    source_hash: Some(c.source_hash.clone()),
                    message: format!(
                        "{:?} changed in the source but was edited by hand on the target; the \
                         target was left as it is (conflict_policy keep_target)",
                        c.external_id
                    ),
                    fields,
                });
            }
            ConflictPolicy::Overwrite => {
                p.stats.updated += 1;
                let fields = fields_of(differing_fields(&s, &t), &base);
                p.actions.push(PlannedAction {
                    external_id: c.external_id.clone(),
                    action: SyncAction::Overwrite,
                    fields: fields.iter().map(|f| f.field.clone()).collect(),
                });
                p.drafts.push(Draft {
                    kind: WarningKind::Overwritten,
                    target_property_id: c.target_id,
                    external_id: c.external_id.clone(),
                    source_hash: Some(c.source_hash.clone()),
                    message: format!(
                        "{:?}: manual edits on the target were overwritten by the source \
                         (conflict_policy overwrite); the previous version is in a snapshot and \
                         keep_target brings the edits back",
                        c.external_id
                    ),
                    fields,
                });
                p.clash_writes.push(ClashWrite {
                    target_id: c.target_id,
                    source_property_id: c.source_id,
                    data: s_text.clone(),
                    hash: c.source_hash.clone(),
                    synced_hash: c.source_hash.clone(),
                    base: None,
                });
            }
        }
    }
}

/// Drops the warnings already open for the same record, kind and source version (`open`, as
/// `store::warning_rows::open_keys` reads them): one is enough. Counts the rest.
pub fn drop_open(p: &mut SyncPlan, open: &HashSet<(i64, String, String)>) {
    p.drafts.retain(|d| {
        !open.contains(&(
            d.target_property_id,
            d.kind.to_string(),
            d.source_hash.clone().unwrap_or_default(),
        ))
    });
    p.stats.warnings = p.drafts.len() as u64;
}

/// The target records the plan writes over (and so snapshots first): copies, deletes, and
/// clashes that are written.
pub fn snapshotted(p: &SyncPlan) -> Vec<i64> {
    let mut ids: Vec<i64> = p.copies.iter().chain(&p.deletes).copied().collect();
    ids.extend(p.clash_writes.iter().map(|w| w.target_id));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::canonical::Canonical;
    use serde_json::json;

    fn hash(v: &Value) -> String {
        Canonical::of(v).hash
    }

    fn source(id: i64, ext: &str, h: &str, deleted: bool) -> SourceRow {
        SourceRow {
            id,
            external_id: ext.into(),
            hash: h.into(),
            deleted,
        }
    }

    fn target(id: i64, sp: i64, h: &str, synced: &str, deleted: bool) -> TargetRow {
        TargetRow {
            id,
            source_property_id: Some(sp),
            hash: h.into(),
            synced_hash: Some(synced.into()),
            deleted,
        }
    }

    fn actions(p: &SyncPlan) -> Vec<(String, SyncAction)> {
        p.actions
            .iter()
            .map(|a| (a.external_id.clone(), a.action))
            .collect()
    }

    #[test]
    fn missing_target_is_created() {
        let p = decide(
            &[(source(1, "A", "h1", false), None)],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.creates, [1]);
        assert_eq!(p.stats.created, 1);
        assert_eq!(actions(&p), [("A".into(), SyncAction::Create)]);
        // A deleted source record with no target: nothing.
        let p = decide(&[(source(1, "A", "h1", true), None)], 0, DeletePolicy::Mark);
        assert_eq!(p, SyncPlan::default());
    }

    #[test]
    fn deleted_target_with_live_source_is_restored() {
        let t = target(9, 1, "h0", "h0", true);
        let p = decide(
            &[(source(1, "A", "h1", false), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.copies, [9]);
        assert_eq!(actions(&p), [("A".into(), SyncAction::Restore)]);
        assert_eq!(p.stats.updated, 1);
    }

    #[test]
    fn deleted_source_is_marked_deleted() {
        let t = target(9, 1, "h1", "h1", false);
        let p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.deletes, [9]);
        assert_eq!(p.stats.deleted, 1);
        assert!(p.drafts.is_empty(), "no hand edit, no warning");
    }

    #[test]
    fn deleted_source_of_an_edited_record_warns_deleted_manual() {
        let t = target(9, 1, "edited", "h1", false);
        let p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.deletes, [9]);
        assert_eq!(p.drafts.len(), 1);
        assert_eq!(p.drafts[0].kind, WarningKind::DeletedManual);
        assert_eq!(p.drafts[0].source_hash.as_deref(), Some("h1"));
    }

    #[test]
    fn deleted_source_is_ignored_under_ignore() {
        let t = target(9, 1, "edited", "h1", false);
        let p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Ignore,
        );
        assert!(p.deletes.is_empty() && p.drafts.is_empty());
        assert_eq!(p.stats.unchanged, 1);
    }

    #[test]
    fn detached_target_is_left_alone() {
        // Its deletion was declined once: it no longer belongs to source record 1.
        let mut t = target(9, 1, "h1", "h1", false);
        t.source_property_id = None;
        let p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert!(p.deletes.is_empty());
        assert_eq!(p.stats.unchanged, 1);
    }

    #[test]
    fn unedited_target_is_copied() {
        let t = target(9, 1, "h0", "h0", false);
        let p = decide(
            &[(source(1, "A", "h1", false), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.copies, [9]);
        assert_eq!(actions(&p), [("A".into(), SyncAction::Update)]);
    }

    #[test]
    fn edited_target_equal_to_source_is_copied() {
        // Edited by hand into exactly what the source now says: nothing to keep.
        let t = target(9, 1, "h1", "h0", false);
        let p = decide(
            &[(source(1, "A", "h1", false), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(p.copies, [9]);
        assert!(p.clashes.is_empty());
    }

    #[test]
    fn edited_target_with_changed_source_is_a_clash() {
        let t = target(9, 1, "edited", "h0", false);
        let p = decide(
            &[(source(1, "A", "h1", false), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        assert_eq!(
            p.clashes,
            [Clash {
                target_id: 9,
                source_id: 1,
                external_id: "A".into(),
                source_hash: "h1".into()
            }]
        );
        assert!(p.actions.is_empty(), "resolve decides");
    }

    /// A clash of `base` (what the last sync wrote), `source` now and `target` now.
    fn clash(base: Value, source: Value, target: Value) -> (SyncPlan, ClashTexts) {
        let p = SyncPlan {
            clashes: vec![Clash {
                target_id: 9,
                source_id: 1,
                external_id: "A".into(),
                source_hash: hash(&source),
            }],
            ..Default::default()
        };
        let texts = ClashTexts {
            source: HashMap::from([(1, Canonical::of(&source).text)]),
            target: HashMap::from([(
                9,
                (Canonical::of(&target).text, Some(Canonical::of(&base).text)),
            )]),
        };
        (p, texts)
    }

    #[test]
    fn merge_without_conflict_keeps_base_only_when_needed() {
        let base = json!({"id": "A", "title": "Villa", "price": 1});
        let source = json!({"id": "A", "title": "Villa", "price": 2});
        let target = json!({"id": "A", "title": "Villa by the sea", "price": 1});
        let (mut p, texts) = clash(base, source.clone(), target);
        resolve(&mut p, ConflictPolicy::Merge, &texts);
        let w = &p.clash_writes[0];
        let merged = json!({"id": "A", "title": "Villa by the sea", "price": 2});
        assert_eq!(w.data, Canonical::of(&merged).text);
        assert_eq!(w.synced_hash, hash(&source));
        assert_eq!(
            w.base.as_deref(),
            Some(Canonical::of(&source).text.as_str()),
            "the merge differs from the source: the source is the next base"
        );
        assert!(p.drafts.is_empty());
        assert_eq!(p.stats.updated, 1);
        // The same edit made in the source too: the merge is the source, no base kept.
        let both = json!({"id": "A", "title": "Villa by the sea", "price": 2});
        let (mut p, texts) = clash(
            json!({"id": "A", "title": "Villa", "price": 1}),
            both.clone(),
            json!({"id": "A", "title": "Villa by the sea", "price": 1}),
        );
        resolve(&mut p, ConflictPolicy::Merge, &texts);
        assert_eq!(p.clash_writes[0].base, None);
    }

    #[test]
    fn merge_with_conflict_keeps_target_values_and_warns() {
        let (mut p, texts) = clash(
            json!({"id": "A", "title": "Villa"}),
            json!({"id": "A", "title": "Big villa"}),
            json!({"id": "A", "title": "Villa with sea view"}),
        );
        resolve(&mut p, ConflictPolicy::Merge, &texts);
        let w = &p.clash_writes[0];
        assert_eq!(
            w.data,
            Canonical::of(&json!({"id": "A", "title": "Villa with sea view"})).text
        );
        assert_eq!(p.drafts[0].kind, WarningKind::Conflict);
        assert_eq!(
            p.drafts[0].message,
            "\"A\": field title changed both in the source and by hand on the target; the \
             target's values were kept"
        );
        assert_eq!(p.stats.unchanged, 1, "nothing of the target changed");
        assert_eq!(actions(&p), [("A".into(), SyncAction::Merge)]);
        assert_eq!(p.actions[0].fields, ["title"]);
    }

    #[test]
    fn keep_target_writes_nothing_and_warns() {
        let (mut p, texts) = clash(
            json!({"id": "A", "price": 1}),
            json!({"id": "A", "price": 2}),
            json!({"id": "A", "price": 3}),
        );
        resolve(&mut p, ConflictPolicy::KeepTarget, &texts);
        assert!(p.clash_writes.is_empty());
        assert_eq!(p.drafts[0].kind, WarningKind::KeptTarget);
        assert_eq!(p.drafts[0].fields[0].base, Some(json!(1)));
        assert_eq!(p.stats.unchanged, 1);
    }

    #[test]
    fn overwrite_writes_source_clears_base_and_warns() {
        let source = json!({"id": "A", "price": 2});
        let (mut p, texts) = clash(
            json!({"id": "A", "price": 1}),
            source.clone(),
            json!({"id": "A", "price": 3}),
        );
        resolve(&mut p, ConflictPolicy::Overwrite, &texts);
        let w = &p.clash_writes[0];
        assert_eq!(
            (w.data.as_str(), w.base.as_ref()),
            (Canonical::of(&source).text.as_str(), None)
        );
        assert_eq!(w.hash, hash(&source));
        assert_eq!(p.drafts[0].kind, WarningKind::Overwritten);
        assert_eq!(p.stats.updated, 1);
        assert_eq!(snapshotted(&p), [9]);
    }

    #[test]
    fn missing_base_counts_every_differing_field_on_both_sides() {
        let (mut p, mut texts) = clash(
            json!({}),
            json!({"id": "A", "price": 2, "title": "X"}),
            json!({"id": "A", "price": 3, "title": "X"}),
        );
        texts.target.get_mut(&9).unwrap().1 = None;
        resolve(&mut p, ConflictPolicy::Merge, &texts);
        assert_eq!(p.drafts[0].fields.len(), 1, "only price differs");
        assert_eq!(p.drafts[0].fields[0].field, "price");
        assert_eq!(p.drafts[0].fields[0].base, None);
    }

    #[test]
    fn open_warning_for_the_same_record_kind_and_source_hash_is_not_raised_again() {
        let t = target(9, 1, "edited", "h1", false);
        let mut p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        let open = HashSet::from([(9, "deleted_manual".to_string(), "h1".to_string())]);
        drop_open(&mut p, &open);
        assert!(p.drafts.is_empty());
        assert_eq!(p.stats.warnings, 0);
        let t = target(9, 1, "edited", "h1", false);
        let mut p = decide(
            &[(source(1, "A", "h1", true), Some(t))],
            0,
            DeletePolicy::Mark,
        );
        let other_version = HashSet::from([(9, "deleted_manual".to_string(), "h0".to_string())]);
        drop_open(&mut p, &other_version);
        assert_eq!(p.stats.warnings, 1);
    }

    #[test]
    fn stats_add_up_to_candidates_plus_in_sync() {
        let candidates = vec![
            (source(1, "A", "h1", false), None),
            (
                source(2, "B", "h2", false),
                Some(target(12, 2, "h0", "h0", false)),
            ),
            (
                source(3, "C", "h3", true),
                Some(target(13, 3, "h3", "h3", false)),
            ),
            (
                source(4, "D", "h4", false),
                Some(target(14, 4, "x", "h0", false)),
            ),
            (
                source(5, "E", "h5", false),
                Some(target(15, 5, "h0", "h0", true)),
            ),
        ];
        let mut p = decide(&candidates, 10, DeletePolicy::Mark);
        let texts = ClashTexts {
            source: HashMap::from([(4, "{\"id\":\"D\",\"v\":2}".to_string())]),
            target: HashMap::from([(14, ("{\"id\":\"D\",\"v\":3}".to_string(), None))]),
        };
        resolve(&mut p, ConflictPolicy::Merge, &texts);
        let s = p.stats;
        assert_eq!(
            s.created + s.updated + s.unchanged + s.deleted,
            candidates.len() as u64 + 10
        );
        assert_eq!((s.created, s.deleted, s.unchanged), (1, 1, 11));
    }
}
