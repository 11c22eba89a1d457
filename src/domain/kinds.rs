//! Typed source/target kinds and the validated parts of their `config` objects.
use serde_json::{Map, Value};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(
                        "unknown {} {:?}; expected one of: {}",
                        $what, other, Self::ALL.join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// Where records come from.
    SourceKind, "source type", { Json => "json", Scraped => "scraped", Manual => "manual", Api => "api" }
);
string_enum!(
    /// Where records go.
    TargetKind, "target type", { Website => "website", Database => "database", Api => "api", Webhook => "webhook", File => "file" }
);
string_enum!(
    /// What a sync does when the source changed a record that was edited by hand on the target.
    ConflictPolicy, "conflict_policy", { Merge => "merge", KeepTarget => "keep_target", Overwrite => "overwrite" }
);
string_enum!(
    /// What a sync does when the source record was deleted.
    DeletePolicy, "delete_policy", { Mark => "mark", Ignore => "ignore" }
);

/// Default share of live records a `full` import may delete without being forced.
pub const DEFAULT_MAX_DELETE_FRACTION: f64 = 0.5;

impl SourceKind {
    /// What a source of this type does today, for people (the dashboard's type list, `--help`
    /// and `/docs` say it).
    pub fn what_it_does(self) -> &'static str {
        match self {
            SourceKind::Json => "a JSON export: records are imported into it",
            SourceKind::Scraped => "a scrape of a listings portal: records are imported into it",
            SourceKind::Manual => "records typed in by hand, or imported",
            SourceKind::Api => {
                "an external API: records are imported into it; nothing is fetched yet"
            }
        }
    }
}

impl TargetKind {
    /// What a target of this type does today, for people (the dashboard's type list, `--help`
    /// and `/docs` say it).
    pub fn what_it_does(self) -> &'static str {
        match self {
            TargetKind::Website => "your website reads these records through the API",
            TargetKind::Database | TargetKind::Api | TargetKind::Webhook | TargetKind::File => {
                "records are kept here; nothing is sent yet"
            }
        }
    }
}

/// The settings a source config may hold (every type the same, for now).
pub const SOURCE_SETTINGS: &[&str] = &["max_delete_fraction"];
/// The settings a target config may hold (every type the same, for now).
pub const TARGET_SETTINGS: &[&str] = &["conflict_policy", "delete_policy"];

/// Refuses the keys of `map` that are not in `known`: a setting that is not understood would
/// otherwise be stored and silently do nothing.
fn only_known(
    map: &Map<String, Value>,
    known: &[&str],
    what: &str,
    does: &str,
) -> Result<(), String> {
    let unknown: Vec<String> = map
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| format!("{k:?}"))
        .collect();
    match unknown.as_slice() {
        [] => Ok(()),
        [one] => Err(format!(
            "{one} is not a setting of {what} ({does}); the settings it understands are: {}",
            known.join(", ")
        )),
        many => Err(format!(
            "{} are not settings of {what} ({does}); the settings it understands are: {}",
            many.join(", "),
            known.join(", ")
        )),
    }
}

/// "a webhook target", "an api source".
fn a(kind: &str, side: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind} {side}")
}

/// Validates a new or changed source config for a source of `kind`: its settings, and no key
/// it does not understand.
pub fn check_source_config(kind: SourceKind, config: &Value) -> Result<SourceSettings, String> {
    let settings = source_settings(config)?;
    only_known(
        as_object(config)?,
        SOURCE_SETTINGS,
        &a(kind.as_str(), "source"),
        kind.what_it_does(),
    )?;
    Ok(settings)
}

/// Validates a new or changed target config for a target of `kind`: its settings, and no key
/// it does not understand.
pub fn check_target_config(kind: TargetKind, config: &Value) -> Result<TargetSettings, String> {
    let settings = target_settings(config)?;
    only_known(
        as_object(config)?,
        TARGET_SETTINGS,
        &a(kind.as_str(), "target"),
        kind.what_it_does(),
    )?;
    Ok(settings)
}

/// The typed settings of a source config.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSettings {
    pub max_delete_fraction: f64,
}

/// The typed settings of a target config.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSettings {
    pub conflict_policy: ConflictPolicy,
    pub delete_policy: DeletePolicy,
}

fn as_object(config: &Value) -> Result<&Map<String, Value>, String> {
    config
        .as_object()
        .ok_or_else(|| "config must be a JSON object".to_string())
}

/// Reads a source config (an object; `max_delete_fraction` a number from 0 to 1); other keys
/// are left alone here (a stored config is read as it is: see [`check_source_config`]).
pub fn source_settings(config: &Value) -> Result<SourceSettings, String> {
    let map = as_object(config)?;
    let max_delete_fraction = match map.get("max_delete_fraction") {
        None | Some(Value::Null) => DEFAULT_MAX_DELETE_FRACTION,
        Some(v) => match v.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => f,
            _ => {
                return Err(format!(
                    "config.max_delete_fraction must be a number from 0 to 1, got {v}"
                ));
            }
        },
    };
    Ok(SourceSettings {
        max_delete_fraction,
    })
}

fn policy<T: std::str::FromStr<Err = String>>(
    map: &Map<String, Value>,
    key: &str,
    default: T,
) -> Result<T, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(s)) => s.parse().map_err(|e| format!("config.{key}: {e}")),
        Some(v) => Err(format!("config.{key} must be a string, got {v}")),
    }
}

/// Reads a target config (`conflict_policy`, `delete_policy`); other keys are left alone here
/// (see [`check_target_config`]).
pub fn target_settings(config: &Value) -> Result<TargetSettings, String> {
    let map = as_object(config)?;
    Ok(TargetSettings {
        conflict_policy: policy(map, "conflict_policy", ConflictPolicy::Merge)?,
        delete_policy: policy(map, "delete_policy", DeletePolicy::Mark)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_parse_and_explain() {
        assert_eq!("manual".parse::<SourceKind>(), Ok(SourceKind::Manual));
        assert_eq!("website".parse::<TargetKind>(), Ok(TargetKind::Website));
        let err = "ftp".parse::<TargetKind>().unwrap_err();
        assert!(
            err.contains("website, database, api, webhook, file"),
            "{err}"
        );
    }

    #[test]
    fn source_settings_table() {
        assert_eq!(
            source_settings(&json!({})).unwrap().max_delete_fraction,
            0.5
        );
        assert_eq!(
            source_settings(&json!({"max_delete_fraction": 0.9, "url": "x"}))
                .unwrap()
                .max_delete_fraction,
            0.9
        );
        assert!(source_settings(&json!({"max_delete_fraction": 2})).is_err());
        assert!(source_settings(&json!({"max_delete_fraction": "half"})).is_err());
        assert!(source_settings(&json!([1])).is_err());
    }

    #[test]
    fn target_settings_table() {
        let d = target_settings(&json!({})).unwrap();
        assert_eq!(d.conflict_policy, ConflictPolicy::Merge);
        assert_eq!(d.delete_policy, DeletePolicy::Mark);
        let t =
            target_settings(&json!({"conflict_policy": "overwrite", "delete_policy": "ignore"}))
                .unwrap();
        assert_eq!(t.conflict_policy, ConflictPolicy::Overwrite);
        assert_eq!(t.delete_policy, DeletePolicy::Ignore);
        let err = target_settings(&json!({"conflict_policy": "yolo"})).unwrap_err();
        assert!(err.contains("merge, keep_target, overwrite"), "{err}");
        let err =
            check_target_config(TargetKind::Webhook, &json!({"url": "http://x"})).unwrap_err();
        assert_eq!(
            err,
            "\"url\" is not a setting of a webhook target (records are kept here; nothing is \
             sent yet); the settings it understands are: conflict_policy, delete_policy"
        );
        let err = check_target_config(
            TargetKind::Website,
            &json!({"schedule": "0 3 * * *", "path": "/srv/out", "conflict_policy": "merge"}),
        )
        .unwrap_err();
        assert!(
            err.starts_with("\"path\", \"schedule\" are not settings of a website target"),
            "{err}"
        );
        assert!(check_target_config(TargetKind::File, &json!({"delete_policy": "ignore"})).is_ok());
        let err =
            check_source_config(SourceKind::Api, &json!({"url": "https://portal"})).unwrap_err();
        assert!(
            err.starts_with("\"url\" is not a setting of an api source (an external API: records are imported into it; nothing is fetched yet)"),
            "{err}"
        );
        let err = check_target_config(TargetKind::Website, &json!({"conflict_policy": "yolo"}))
            .unwrap_err();
        assert!(err.contains("merge, keep_target, overwrite"), "{err}");
        assert!(target_settings(&json!({"delete_policy": 1})).is_err());
        assert!(target_settings(&json!("merge")).is_err());
    }
}
