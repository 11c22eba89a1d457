//! Field-level three-way merge of top-level record fields (SPEC §4, `conflict_policy = merge`).
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One top-level field changed on both sides to different values. `None` means "absent".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    pub field: String,
    pub base: Option<Value>,
    pub source: Option<Value>,
    pub target: Option<Value>,
}

/// Result of a three-way merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub merged: Map<String, Value>,
    pub conflicts: Vec<FieldConflict>,
}

/// Merges per top-level field: a field changed only in `source` takes the source value, one
/// changed only in `target` keeps the target value, one changed in both to different values keeps
/// the target value and is reported as a conflict.
pub fn three_way_merge(
    base: &Map<String, Value>,
    source: &Map<String, Value>,
    target: &Map<String, Value>,
) -> MergeOutcome {
    let fields: BTreeSet<&String> = base
        .keys()
        .chain(source.keys())
        .chain(target.keys())
        .collect();
    let mut merged = Map::new();
    let mut conflicts = Vec::new();
    for field in fields {
        let (b, s, t) = (base.get(field), source.get(field), target.get(field));
        let chosen = if s == t || s == b {
            t
        } else if t == b {
            s
        } else {
            conflicts.push(FieldConflict {
                field: field.clone(),
                base: b.cloned(),
                source: s.cloned(),
                target: t.cloned(),
            });
            t
        };
        if let Some(v) = chosen {
            merged.insert(field.clone(), v.clone());
        }
    }
    MergeOutcome { merged, conflicts }
}

/// The top-level fields where `a` and `b` differ, with both values (`None` = absent).
pub fn differing_fields(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
) -> Vec<(String, Option<Value>, Option<Value>)> {
    let fields: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    fields
        .into_iter()
        .filter(|f| a.get(*f) != b.get(*f))
        .map(|f| (f.clone(), a.get(f).cloned(), b.get(f).cloned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merge_table() {
        // (base, source, target, merged, conflicting fields)
        let cases = vec![
            // nothing changed
            (
                json!({"a":1}),
                json!({"a":1}),
                json!({"a":1}),
                json!({"a":1}),
                vec![],
            ),
            // changed only in source
            (
                json!({"a":1,"b":2}),
                json!({"a":9,"b":2}),
                json!({"a":1,"b":2}),
                json!({"a":9,"b":2}),
                vec![],
            ),
            // changed only in target
            (
                json!({"a":1,"b":2}),
                json!({"a":1,"b":2}),
                json!({"a":1,"b":7}),
                json!({"a":1,"b":7}),
                vec![],
            ),
            // different fields changed on each side: both kept
            (
                json!({"a":1,"b":2}),
                json!({"a":9,"b":2}),
                json!({"a":1,"b":7}),
                json!({"a":9,"b":7}),
                vec![],
            ),
            // same field changed to the same value on both sides: no conflict
            (
                json!({"a":1}),
                json!({"a":5}),
                json!({"a":5}),
                json!({"a":5}),
                vec![],
            ),
            // same field changed differently: target kept, conflict
            (
                json!({"a":1}),
                json!({"a":5}),
                json!({"a":6}),
                json!({"a":6}),
                vec!["a"],
            ),
            // field added in source only
            (
                json!({}),
                json!({"pool":true}),
                json!({}),
                json!({"pool":true}),
                vec![],
            ),
            // field removed in target only
            (
                json!({"pool":true}),
                json!({"pool":true}),
                json!({}),
                json!({}),
                vec![],
            ),
            // field removed in source only
            (
                json!({"pool":true,"a":1}),
                json!({"a":1}),
                json!({"pool":true,"a":1}),
                json!({"a":1}),
                vec![],
            ),
            // removed in source, changed in target: conflict, target kept
            (
                json!({"pool":true}),
                json!({}),
                json!({"pool":false}),
                json!({"pool":false}),
                vec!["pool"],
            ),
            // added on both sides with different values: conflict
            (
                json!({}),
                json!({"x":1}),
                json!({"x":2}),
                json!({"x":2}),
                vec!["x"],
            ),
            // nested objects are compared as whole values
            (
                json!({"loc":{"c":"M","l":1}}),
                json!({"loc":{"c":"B","l":1}}),
                json!({"loc":{"c":"M","l":2}}),
                json!({"loc":{"c":"M","l":2}}),
                vec!["loc"],
            ),
            // arrays likewise
            (
                json!({"f":[1]}),
                json!({"f":[1,2]}),
                json!({"f":[1]}),
                json!({"f":[1,2]}),
                vec![],
            ),
        ];
        for (base, source, target, merged, conflict_fields) in cases {
            let out = three_way_merge(
                &obj(base.clone()),
                &obj(source.clone()),
                &obj(target.clone()),
            );
            assert_eq!(
                Value::Object(out.merged),
                merged,
                "base {base} source {source} target {target}"
            );
            let got: Vec<&str> = out.conflicts.iter().map(|c| c.field.as_str()).collect();
            assert_eq!(
                got, conflict_fields,
                "base {base} source {source} target {target}"
            );
        }
    }

    #[test]
    fn conflict_carries_all_three_values() {
        let out = three_way_merge(
            &obj(json!({"price": 100})),
            &obj(json!({"price": 110})),
            &obj(json!({"price": 95})),
        );
        assert_eq!(
            out.conflicts,
            vec![FieldConflict {
                field: "price".into(),
                base: Some(json!(100)),
                source: Some(json!(110)),
                target: Some(json!(95)),
            }]
        );
    }

    #[test]
    fn differing_fields_lists_changed_added_and_removed() {
        let d = differing_fields(
            &obj(json!({"a":1,"b":2,"c":3})),
            &obj(json!({"a":1,"b":5,"d":4})),
        );
        let fields: Vec<&str> = d.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(fields, vec!["b", "c", "d"]);
        assert_eq!(d[1], ("c".to_string(), Some(json!(3)), None));
    }
}
