//! The rows the dashboard shows for differences, computed here and only rendered by the
//! templates (as Gitea's CSV diff does): the field-by-field change between two versions of a
//! record, and the three-way view of a conflict (base / source / website per field).
use super::merge::FieldConflict;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// How a field differs between an older and a newer version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Modified,
}

impl Change {
    /// The CSS class and the word shown (colour is never the only signal).
    pub fn label(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Modified => "changed",
        }
    }
}

/// One changed field between two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub change: Change,
    /// The values as text ("" when absent).
    pub old: String,
    pub new: String,
}

/// A value as people read it: strings without quotes, everything else as JSON.
pub fn show(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// The fields that differ from `old` to `new`, in field order; a nested object is shown as
/// sub-rows of its changed fields (`location.city`), so that a moved pin does not show the
/// whole object twice.
pub fn field_changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    changes_into(old, new, "", &mut out);
    out
}

fn changes_into(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    prefix: &str,
    out: &mut Vec<FieldChange>,
) {
    let empty = Map::new();
    let fields: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for field in fields {
        let (o, n) = (old.get(field), new.get(field));
        let name = format!("{prefix}{field}");
        let change = match (o, n) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                changes_into(a, b, &format!("{name}."), out);
                continue;
            }
            (None, Some(Value::Object(b))) if !b.is_empty() => {
                changes_into(&empty, b, &format!("{name}."), out);
                continue;
            }
            (Some(Value::Object(a)), None) if !a.is_empty() => {
                changes_into(a, &empty, &format!("{name}."), out);
                continue;
            }
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(_), Some(_)) => Change::Modified,
            (None, None) => continue,
        };
        out.push(FieldChange {
            field: name,
            change,
            old: show(o),
            new: show(n),
        });
    }
}

/// One row of the three-way view of a warning: a field, its three values, which of them moved
/// away from the base, and what the two choices would set.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    pub field: String,
    pub base: String,
    pub source: String,
    pub target: String,
    /// The source's value differs from the base (the source changed it).
    pub source_changed: bool,
    /// The website's value differs from the base (someone edited it there).
    pub target_changed: bool,
    /// The field is absent on that side.
    pub source_absent: bool,
    pub target_absent: bool,
}

/// The rows of a warning's fields.
pub fn conflict_rows(fields: &[FieldConflict]) -> Vec<ConflictRow> {
    fields
        .iter()
        .map(|f| ConflictRow {
            field: f.field.clone(),
            base: show(f.base.as_ref()),
            source: show(f.source.as_ref()),
            target: show(f.target.as_ref()),
            source_changed: f.source != f.base,
            target_changed: f.target != f.base,
            source_absent: f.source.is_none(),
            target_absent: f.target.is_none(),
        })
        .collect()
}

/// A record's fields as rows of (field, value as text), in field order; the fields of a
/// nested object are sub-rows (`location.city`).
pub fn field_rows(data: &Map<String, Value>) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    rows_into(data, "", &mut rows);
    rows
}

fn rows_into(data: &Map<String, Value>, prefix: &str, rows: &mut Vec<(String, String)>) {
    let mut fields: Vec<(&String, &Value)> = data.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in fields {
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                rows_into(inner, &format!("{prefix}{k}."), rows)
            }
            _ => rows.push((format!("{prefix}{k}"), show(Some(v)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn changes_between_versions() {
        let old = map(json!({"title": "Villa", "price": 1, "pool": true, "tags": ["a"]}));
        let new = map(json!({"title": "Villa", "price": 2, "garden": "yes", "tags": ["a"]}));
        let got = field_changes(&old, &new);
        let want = vec![
            FieldChange {
                field: "garden".into(),
                change: Change::Added,
                old: "".into(),
                new: "yes".into(),
            },
            FieldChange {
                field: "pool".into(),
                change: Change::Removed,
                old: "true".into(),
                new: "".into(),
            },
            FieldChange {
                field: "price".into(),
                change: Change::Modified,
                old: "1".into(),
                new: "2".into(),
            },
        ];
        assert_eq!(got, want);
        assert!(field_changes(&old, &old).is_empty());
        assert_eq!(Change::Modified.label(), "changed");
    }

    #[test]
    fn nested_objects_are_sub_rows() {
        let old = map(json!({"location": {"city": "Marbella", "lat": 36.5}, "price": 1}));
        let new = map(
            json!({"location": {"city": "Marbella", "lat": 36.6, "zip": "29600"}, "extra": {"a": 1}, "price": 1}),
        );
        let got: Vec<(String, Change, String, String)> = field_changes(&old, &new)
            .into_iter()
            .map(|c| (c.field, c.change, c.old, c.new))
            .collect();
        assert_eq!(
            got,
            vec![
                ("extra.a".into(), Change::Added, "".into(), "1".into()),
                (
                    "location.lat".into(),
                    Change::Modified,
                    "36.5".into(),
                    "36.6".into()
                ),
                (
                    "location.zip".into(),
                    Change::Added,
                    "".into(),
                    "29600".into()
                ),
            ]
        );
        // An object that becomes a number is one row.
        let got = field_changes(&map(json!({"a": {"b": 1}})), &map(json!({"a": 2})));
        assert_eq!((got[0].field.as_str(), got[0].new.as_str()), ("a", "2"));
        assert_eq!(
            field_rows(&map(json!({"location": {"lat": 1, "city": "M"}, "a": {}}))),
            [
                ("a".into(), "{}".into()),
                ("location.city".into(), "M".into()),
                ("location.lat".into(), "1".into())
            ]
        );
    }

    #[test]
    fn conflict_rows_mark_what_moved_from_the_base() {
        let fields = vec![
            FieldConflict {
                field: "title".into(),
                base: Some(json!("Villa")),
                source: Some(json!("Big villa")),
                target: Some(json!("Villa with sea view")),
            },
            FieldConflict {
                field: "pool".into(),
                base: Some(json!(true)),
                source: None,
                target: Some(json!(true)),
            },
            FieldConflict {
                field: "note".into(),
                base: None,
                source: None,
                target: Some(json!({"a": 1})),
            },
        ];
        let rows = conflict_rows(&fields);
        assert_eq!(
            (rows[0].source_changed, rows[0].target_changed),
            (true, true)
        );
        assert_eq!(rows[0].source, "Big villa");
        assert_eq!(
            (
                rows[1].source_changed,
                rows[1].target_changed,
                rows[1].source_absent
            ),
            (true, false, true)
        );
        assert_eq!(rows[2].target, "{\"a\":1}");
        assert_eq!(
            (rows[2].source_changed, rows[2].target_changed),
            (false, true)
        );
    }

    #[test]
    fn shown_values() {
        assert_eq!(show(None), "");
        assert_eq!(show(Some(&json!("<b>"))), "<b>");
        assert_eq!(show(Some(&json!(1.5))), "1.5");
        assert_eq!(show(Some(&json!(null))), "null");
        assert_eq!(
            field_rows(&map(json!({"b": 1, "a": "x"}))),
            [("a".into(), "x".into()), ("b".into(), "1".into())]
        );
    }
}
