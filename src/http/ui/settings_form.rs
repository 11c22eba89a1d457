//! The settings form of a source or target: the types offered (with what each does today),
//! the settings shown from a stored config, and the config a posted form asks for.
use super::{Posted, UiError};
use crate::domain::kinds::{SourceKind, TargetKind};
use crate::ids::Side;
use serde_json::{Map, Value};

/// The types of sources in the order a form offers them, with what each does today.
const SOURCE_TYPES: [SourceKind; 4] = [
    SourceKind::Scraped,
    SourceKind::Json,
    SourceKind::Manual,
    SourceKind::Api,
];
const TARGET_TYPES: [TargetKind; 5] = [
    TargetKind::Website,
    TargetKind::Database,
    TargetKind::Api,
    TargetKind::Webhook,
    TargetKind::File,
];

/// Each type of a side (its value, what it does today).
pub(super) fn types(side: Side) -> Vec<(&'static str, &'static str)> {
    match side {
        Side::Source => SOURCE_TYPES
            .iter()
            .map(|k| (k.as_str(), k.what_it_does()))
            .collect(),
        Side::Target => TARGET_TYPES
            .iter()
            .map(|k| (k.as_str(), k.what_it_does()))
            .collect(),
    }
}

/// What an endpoint of type `kind` (as stored) on `side` does today.
pub(super) fn what_it_does(side: Side, kind: &str) -> &'static str {
    types(side)
        .into_iter()
        .find(|(value, _)| *value == kind)
        .map_or("", |(_, what)| what)
}

/// The settings a form edits: the known policies, and the rest of the config as JSON.
pub struct Settings {
    pub max_delete_percent: String,
    pub conflict_policy: String,
    pub delete_policy: String,
    pub other: String,
}

pub(super) fn settings_of(config: &str) -> Settings {
    let mut map: Map<String, Value> = serde_json::from_str(config).unwrap_or_default();
    let mut take = |k: &str| map.remove(k);
    let max = take("max_delete_fraction")
        .and_then(|v| v.as_f64())
        .map(|f| format!("{}", (f * 100.0).round()))
        .unwrap_or_else(|| "50".into());
    let conflict = take("conflict_policy")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "merge".into());
    let delete = take("delete_policy")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "mark".into());
    let other = if map.is_empty() {
        String::new()
    } else {
        serde_json::to_string_pretty(&map).unwrap_or_default()
    };
    Settings {
        max_delete_percent: max,
        conflict_policy: conflict,
        delete_policy: delete,
        other,
    }
}

/// The config a settings form asks for.
pub(super) fn config_of(side: Side, form: &Posted) -> Result<Value, UiError> {
    let other = form.get("other").unwrap_or("").trim();
    let mut map: Map<String, Value> = if other.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(other) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(UiError::BadForm(
                    "“Other settings” must be a JSON object, like {\"region\": \"south\"}, or \
                     empty"
                        .into(),
                ));
            }
        }
    };
    match side {
        Side::Source => {
            let percent = form.get("max_delete_percent").unwrap_or("50").trim();
            let percent: f64 = percent.parse().map_err(|_| {
                UiError::BadForm(format!(
                    "“Largest share a full import may delete” must be a number from 0 to 100, \
                     got {percent:?}"
                ))
            })?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(UiError::BadForm(format!(
                    "“Largest share a full import may delete” must be from 0 to 100 %, got \
                     {percent}"
                )));
            }
            map.insert("max_delete_fraction".into(), Value::from(percent / 100.0));
        }
        Side::Target => {
            for key in ["conflict_policy", "delete_policy"] {
                if let Some(v) = form.get(key) {
                    map.insert(key.into(), Value::from(v));
                }
            }
        }
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let s = settings_of(r#"{"max_delete_fraction": 0.25, "region": "south"}"#);
        assert_eq!(s.max_delete_percent, "25");
        assert!(s.other.contains("region"));
        let t = settings_of(r#"{"conflict_policy": "overwrite"}"#);
        assert_eq!(
            (t.conflict_policy.as_str(), t.delete_policy.as_str()),
            ("overwrite", "mark")
        );
        assert!(t.other.is_empty());
    }
}
