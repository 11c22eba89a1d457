//! Warnings: their kinds, statuses and resolutions as types (each word spelled here once), and
//! the pure decisions of resolving one: which fields a per-field choice must name, and what the
//! record's data becomes.
use super::kinds::string_enum;
use super::merge::FieldConflict;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum!(
    /// What a warning is about.
    WarningKind, "warning kind", {
        Conflict => "conflict",
        KeptTarget => "kept_target",
        Overwritten => "overwritten",
        DeletedManual => "deleted_manual",
        Rejected => "rejected",
    }
);

string_enum!(
    /// Whether a warning waits for a decision.
    WarningStatus, "status", { Open => "open", Resolved => "resolved" }
);

impl WarningKind {
    /// Every kind, in the order the dashboard offers them.
    pub const KINDS: [WarningKind; 5] = [
        WarningKind::Conflict,
        WarningKind::KeptTarget,
        WarningKind::Overwritten,
        WarningKind::DeletedManual,
        WarningKind::Rejected,
    ];

    /// The kind in words, for its badge.
    pub fn words(self) -> &'static str {
        match self {
            WarningKind::Conflict => "changed on both sides",
            WarningKind::KeptTarget => "kept the website's values",
            WarningKind::Overwritten => "overwrote edits made by hand",
            WarningKind::DeletedManual => "deleted a record edited by hand",
            WarningKind::Rejected => "records refused by an import",
        }
    }

    /// What one and several of them are called when counted ("3 conflicts").
    pub fn counted(self) -> (&'static str, &'static str) {
        match self {
            WarningKind::Conflict => ("conflict", "conflicts"),
            WarningKind::KeptTarget => ("edit kept on its target", "edits kept on their targets"),
            WarningKind::Overwritten => ("edit overwritten", "edits overwritten"),
            WarningKind::DeletedManual => ("edited record deleted", "edited records deleted"),
            WarningKind::Rejected => ("rejected record", "rejected records"),
        }
    }
}

/// How a human resolves a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Accept the manual (target) values.
    KeepTarget,
    /// Apply the source values for the fields concerned (snapshot first).
    TakeSource,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::KeepTarget => "keep_target",
            Resolution::TakeSource => "take_source",
        }
    }
}

impl std::str::FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "keep_target" => Ok(Resolution::KeepTarget),
            "take_source" => Ok(Resolution::TakeSource),
            other => Err(format!(
                "unknown resolution {other:?}; expected keep_target or take_source"
            )),
        }
    }
}

/// The resolution recorded on warnings a rollback of their run closed.
pub const ROLLED_BACK: &str = "rolled_back";
/// The resolution recorded when fields were resolved differently.
pub const PER_FIELD: &str = "per_field";

/// How a warning is resolved: one resolution for all its fields, or one per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    All(Resolution),
    /// Every field of the warning, each with its resolution.
    Fields(BTreeMap<String, Resolution>),
}

impl Choice {
    /// What goes into `warnings.resolution`.
    pub fn label(&self) -> String {
        match self {
            Choice::All(r) => r.as_str().to_string(),
            Choice::Fields(fields) => {
                let mut kinds: Vec<&str> = fields.values().map(|r| r.as_str()).collect();
                kinds.dedup();
                if kinds.len() == 1 {
                    kinds[0].to_string()
                } else {
                    PER_FIELD.to_string()
                }
            }
        }
    }

    /// The resolution of `field`.
    fn of(&self, field: &str) -> Resolution {
        match self {
            Choice::All(r) => *r,
            Choice::Fields(chosen) => chosen[field],
        }
    }
}

/// Checks a per-field choice against the warning's fields: every field chosen, no other;
/// else what to fix (the warning is named by `id`).
pub fn check_fields(
    id: impl std::fmt::Display,
    fields: &[FieldConflict],
    chosen: &BTreeMap<String, Resolution>,
) -> Result<(), String> {
    if fields.is_empty() {
        return Err(format!(
            "warning {id} has no fields to choose between; resolve it with \
             {{\"resolution\": \"keep_target\"}} or \"take_source\""
        ));
    }
    if let Some(other) = chosen
        .keys()
        .find(|k| !fields.iter().any(|f| &&f.field == k))
    {
        return Err(format!(
            "warning {id} has no field {other:?}; its fields are {}",
            fields
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let missing: Vec<&str> = fields
        .iter()
        .map(|f| f.field.as_str())
        .filter(|f| !chosen.contains_key(*f))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "choose keep_target or take_source for every field of warning {id}; missing: {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The record's data after `choice` (checked) for the warning's `fields`: each field keeps the
/// target's value or takes the source's; a value absent on the chosen side is removed.
pub fn apply_choice(data: &mut Map<String, Value>, fields: Vec<FieldConflict>, choice: &Choice) {
    for f in fields {
        let value = match choice.of(&f.field) {
            Resolution::KeepTarget => f.target,
            Resolution::TakeSource => f.source,
        };
        match value {
            Some(v) => data.insert(f.field, v),
            None => data.remove(&f.field),
        };
    }
}

/// A warning about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWarning {
    pub kind: WarningKind,
    pub run_id: i64,
    pub source_id: Option<i64>,
    pub target_id: Option<i64>,
    pub target_property_id: Option<i64>,
    pub external_id: Option<String>,
    /// The source version it is about: an open warning of the same record, kind and source
    /// version is not raised again.
    pub source_hash: Option<String>,
    pub message: String,
    /// JSON text: `{"fields": [...]}` for a sync's, `{"errors": [...], "total": n}` for an
    /// import's.
    pub details: String,
}

/// The message of an import's warning of its rejected records.
pub fn rejected_message(
    rejected: usize,
    source: impl std::fmt::Display,
    first_index: u64,
    first_reason: &str,
) -> String {
    format!(
        "{} of an import into source {source} {} rejected; first: record {first_index}: \
         {first_reason}",
        super::words::count_of(rejected as u64, "record", "records"),
        if rejected == 1 { "was" } else { "were" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conflict(field: &str, base: i64, source: Option<i64>, target: Option<i64>) -> FieldConflict {
        FieldConflict {
            field: field.into(),
            base: Some(json!(base)),
            source: source.map(|v| json!(v)),
            target: target.map(|v| json!(v)),
        }
    }

    #[test]
    fn label_is_the_resolution_or_per_field() {
        assert_eq!(Choice::All(Resolution::KeepTarget).label(), "keep_target");
        let same = Choice::Fields(BTreeMap::from([
            ("a".to_string(), Resolution::TakeSource),
            ("b".to_string(), Resolution::TakeSource),
        ]));
        assert_eq!(same.label(), "take_source");
        let mixed = Choice::Fields(BTreeMap::from([
            ("a".to_string(), Resolution::TakeSource),
            ("b".to_string(), Resolution::KeepTarget),
        ]));
        assert_eq!(mixed.label(), "per_field");
    }

    #[test]
    fn check_fields_refuses_empty_unknown_and_missing() {
        let fields = vec![
            conflict("price", 1, Some(2), Some(3)),
            conflict("title", 1, None, Some(1)),
        ];
        let all = BTreeMap::from([
            ("price".to_string(), Resolution::KeepTarget),
            ("title".to_string(), Resolution::TakeSource),
        ]);
        assert_eq!(check_fields(7, &fields, &all), Ok(()));
        let err = check_fields(7, &[], &all).unwrap_err();
        assert!(
            err.contains("warning 7 has no fields to choose between"),
            "{err}"
        );
        let mut other = all.clone();
        other.insert("pool".into(), Resolution::KeepTarget);
        let err = check_fields(7, &fields, &other).unwrap_err();
        assert_eq!(
            err,
            "warning 7 has no field \"pool\"; its fields are price, title"
        );
        let mut missing = all;
        missing.remove("title");
        let err = check_fields(7, &fields, &missing).unwrap_err();
        assert!(err.ends_with("missing: title"), "{err}");
    }

    #[test]
    fn apply_choice_keeps_or_takes_each_field_and_removes_absent() {
        let mut data = json!({"price": 3, "title": 1, "other": "x"})
            .as_object()
            .unwrap()
            .clone();
        let fields = vec![
            conflict("price", 1, Some(2), Some(3)),
            conflict("title", 1, None, Some(1)),
        ];
        let choice = Choice::Fields(BTreeMap::from([
            ("price".to_string(), Resolution::TakeSource),
            ("title".to_string(), Resolution::TakeSource),
        ]));
        apply_choice(&mut data, fields.clone(), &choice);
        assert_eq!(
            Value::Object(data.clone()),
            json!({"price": 2, "other": "x"})
        );
        apply_choice(&mut data, fields, &Choice::All(Resolution::KeepTarget));
        assert_eq!(
            Value::Object(data),
            json!({"price": 3, "title": 1, "other": "x"})
        );
    }

    #[test]
    fn kinds_and_statuses_round_trip_their_text() {
        for kind in WarningKind::KINDS {
            assert_eq!(kind.as_str().parse::<WarningKind>(), Ok(kind));
            assert!(!kind.words().is_empty());
        }
        assert_eq!(WarningKind::ALL.len(), WarningKind::KINDS.len());
        for status in ["open", "resolved"] {
            assert_eq!(status.parse::<WarningStatus>().unwrap().as_str(), status);
        }
        let err = "done".parse::<WarningStatus>().unwrap_err();
        assert!(err.contains("open, resolved"), "{err}");
        for r in ["keep_target", "take_source"] {
            assert_eq!(r.parse::<Resolution>().unwrap().as_str(), r);
        }
        assert!("both".parse::<Resolution>().is_err());
        assert_eq!(
            rejected_message(1, 3, 0, "no id"),
            "1 record of an import into source 3 was rejected; first: record 0: no id"
        );
    }
}
