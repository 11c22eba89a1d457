//! What every page's template gets (`Layout`), and small view values built in code so that
//! the templates only render: times, counts in words, the overview's chart.
use super::{Flash, Viewed};
use crate::domain::run::{RunKind, STATUS_FAILED};
use crate::domain::stats::STAT_KEYS;
use crate::domain::warning::WarningKind;
use crate::entity::runs;
use crate::service::sessions::Viewer;
use chrono::{DateTime, Utc};

/// The frame of every page: title, navigation, who is logged in, the flash message, the CSRF
/// token of its forms, and the asset URLs.
pub struct Layout {
    pub title: String,
    pub base: String,
    pub csrf: String,
    /// The tenant's name, or "Admin".
    pub viewer: String,
    pub is_admin: bool,
    /// The section the page belongs to, for the navigation.
    pub nav: &'static str,
    pub flash: Option<Flash>,
    pub css: String,
    pub js: String,
    pub icon: String,
}

impl Layout {
    pub fn new(viewed: &Viewed, title: impl Into<String>, nav: &'static str) -> Self {
        let (viewer, is_admin) = match viewed.viewer() {
            Viewer::Tenant { name, .. } => (name.clone(), false),
            Viewer::Admin { .. } => ("Admin".to_string(), true),
        };
        Layout {
            title: title.into(),
            base: viewed.base.clone(),
            csrf: viewed.csrf.clone(),
            viewer,
            is_admin,
            nav,
            flash: viewed.flash.clone(),
            css: format!("{}{}", viewed.base, crate::http::assets::url("app.css")),
            js: format!("{}{}", viewed.base, crate::http::assets::url("app.js")),
            icon: format!("{}{}", viewed.base, crate::http::assets::url("favicon.svg")),
        }
    }

    /// The flash message shown at the top (one that belongs to no form).
    pub fn top_flash(&self) -> Option<&Flash> {
        self.flash.as_ref().filter(|f| f.at.is_empty())
    }

    /// The error to show next to the form `at`.
    pub fn error_at(&self, at: &str) -> Option<&str> {
        self.flash
            .as_ref()
            .filter(|f| !f.ok && f.at == at)
            .map(|f| f.text.as_str())
    }

    pub fn is(&self, nav: &str) -> bool {
        self.nav == nav
    }
}

/// A moment, shown in UTC (the script turns it into the viewer's local time) and as
/// machine-readable text for `<time datetime>`.
#[derive(Clone, Debug)]
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    pub fn of(t: &DateTime<Utc>) -> Self {
        When {
            iso: t.to_rfc3339(),
            text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    pub fn maybe(t: &Option<DateTime<Utc>>) -> Option<Self> {
        t.as_ref().map(When::of)
    }
}

/// A number a page counts with (templates hand over values or references to them).
pub trait Count {
    fn count(&self) -> u64;
}

impl Count for u64 {
    fn count(&self) -> u64 {
        *self
    }
}

impl Count for usize {
    fn count(&self) -> u64 {
        *self as u64
    }
}

impl<T: Count + ?Sized> Count for &T {
    fn count(&self) -> u64 {
        (**self).count()
    }
}

/// "1 record", "2 records", "12,345 records".
pub fn plural(n: impl Count, one: &str, many: &str) -> String {
    let n = n.count();
    format!("{} {}", num(n), if n == 1 { one } else { many })
}

/// A count with thousands separators: 1234567 → "1,234,567".
pub fn num(n: impl Count) -> String {
    let digits = n.count().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub use crate::domain::words::{and_list, fields_in_words};

/// A warning kind in words, for its badge (a word no kind has, as it is).
pub fn kind_words(kind: &str) -> &str {
    match kind.parse::<WarningKind>() {
        Ok(k) => k.words(),
        Err(_) => kind,
    }
}

pub use crate::domain::stats::action_words;

/// "3 conflicts", "1 rejected record": a count of open warnings of a kind, in words.
pub fn warnings_of_kind(n: u64, kind: &str) -> String {
    let (one, many) = match kind.parse::<WarningKind>() {
        Ok(k) => k.counted(),
        Err(_) => (kind, kind),
    };
    plural(n, one, many)
}

/// Who started a run, in words: a key by its name (runs record its public prefix), "the
/// command line", "the daily cleanup".
pub fn actor_words(actor: &str, key_names: &std::collections::HashMap<String, String>) -> String {
    let (prefix, place) = match actor.strip_suffix(" (dashboard)") {
        Some(prefix) => (prefix, " in the dashboard"),
        None => (actor, ""),
    };
    match prefix {
        "cli" => "the command line".into(),
        "scheduler" => "the daily cleanup".into(),
        _ => match key_names.get(prefix) {
            Some(name) => format!("key “{name}”{place}"),
            None => format!("key {prefix}…{place}"),
        },
    }
}

/// How long a run took, in words.
pub fn duration(run: &runs::Model) -> String {
    match run.finished_at {
        None => "running".into(),
        Some(end) => {
            let ms = (end - run.started_at).num_milliseconds().max(0);
            if ms < 1000 {
                format!("{ms} ms")
            } else if ms < 60_000 {
                format!("{:.1} s", ms as f64 / 1000.0)
            } else {
                format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
            }
        }
    }
}

/// A run in a table.
pub struct RunRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub actor: String,
    pub started: When,
    pub duration: String,
    /// "41 created, 3 updated" (the counts that are not zero).
    pub counts: String,
    /// Why it failed, for a failed run.
    pub error: Option<String>,
}

/// The non-zero counts of a run's stats, in words.
pub fn counts(stats: &serde_json::Value) -> String {
    let Some(map) = stats.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for key in STAT_KEYS {
        if let Some(n) = map.get(key).and_then(|v| v.as_u64()).filter(|n| *n > 0) {
            let word = match (key, n) {
                ("warnings", 1) => "warning",
                ("snapshots", 1) => "snapshot",
                ("runs", 1) => "run",
                _ => key,
            };
            parts.push(format!("{} {word}", num(n)));
        }
    }
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

impl RunRow {
    /// The row of `run`, its actor named by `key_names` (see [`actor_words`]).
    pub fn named(run: &runs::Model, key_names: &std::collections::HashMap<String, String>) -> Self {
        let mut row = Self::of(run);
        row.actor = actor_words(&run.actor, key_names);
        row
    }

    pub fn of(run: &runs::Model) -> Self {
        let stats: serde_json::Value = serde_json::from_str(&run.stats).unwrap_or_default();
        let detail: serde_json::Value = run
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        RunRow {
            id: run.id,
            kind: run.kind.clone(),
            status: run.status.clone(),
            actor: run.actor.clone(),
            started: When::of(&run.started_at),
            duration: duration(run),
            counts: if run.status == STATUS_FAILED {
                "nothing changed".into()
            } else {
                counts(&stats)
            },
            error: (run.status == STATUS_FAILED)
                .then(|| detail["error"].as_str().unwrap_or("failed").to_string()),
        }
    }
}

/// One bar of the overview's chart: a run's created / updated / warnings stacked.
pub struct Bar {
    pub run_id: i64,
    pub x: u32,
    pub width: u32,
    /// (y, height) of each part, drawn from the bottom up.
    pub created: (u32, u32),
    pub updated: (u32, u32),
    pub warnings: (u32, u32),
    /// The tooltip.
    pub title: String,
}

/// The chart's height in SVG units.
pub const CHART_HEIGHT: u32 = 120;

/// The bars of the chart of `runs` (newest first, as listed): oldest on the left, heights
/// relative to the largest run; only imports and syncs change records, so only they are
/// drawn.
pub fn chart(runs: &[runs::Model]) -> Vec<Bar> {
    let mut picked: Vec<(&runs::Model, [u64; 3])> = runs
        .iter()
        .filter(|r| RunKind::of(&r.kind).is_some_and(RunKind::is_bulk_change))
        .map(|r| {
            let stats: serde_json::Value = serde_json::from_str(&r.stats).unwrap_or_default();
            let n = |k: &str| stats[k].as_u64().unwrap_or(0);
            (r, [n("created"), n("updated"), n("warnings")])
        })
        .collect();
    picked.reverse();
    let max = picked
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: u64| ((n as f64 / max as f64) * CHART_HEIGHT as f64).round() as u32;
    picked
        .iter()
        .enumerate()
        .map(|(i, (run, [c, u, w]))| {
            let (hc, hu, hw) = (scale(*c), scale(*u), scale(*w));
            let bottom = CHART_HEIGHT;
            Bar {
                run_id: run.id,
                x: i as u32 * 20 + 2,
                width: 16,
                created: (bottom - hc, hc),
                updated: (bottom - hc - hu, hu),
                warnings: (bottom.saturating_sub(hc + hu + hw), hw),
                title: format!(
                    "Run {} ({}, {}): {} created, {} updated, {}",
                    run.id,
                    run.kind,
                    run.started_at.format("%Y-%m-%d %H:%M UTC"),
                    c,
                    u,
                    plural(*w, "warning", "warnings")
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, kind: &str, stats: &str) -> runs::Model {
        let at = DateTime::parse_from_rfc3339("2026-12-02T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        runs::Model {
            id,
            tenant_id: 1,
            kind: kind.into(),
            status: "succeeded".into(),
            source_id: None,
            target_id: None,
            stats: stats.into(),
            detail: None,
            actor: "cli".into(),
            started_at: at,
            finished_at: Some(at + chrono::Duration::milliseconds(1500)),
            owner: None,
        }
    }

    #[test]
    fn chart_bars_stack_and_scale() {
        let runs = vec![
            run(
                3,
                "sync",
                r#"{"created": 0, "updated": 10, "warnings": 10}"#,
            ),
            run(2, "edit", r#"{"updated": 1}"#),
            run(1, "import", r#"{"created": 40}"#),
        ];
        let bars = chart(&runs);
        assert_eq!(bars.len(), 2, "imports and syncs only");
        assert_eq!(bars[0].run_id, 1, "oldest first");
        assert_eq!(bars[0].created, (0, CHART_HEIGHT));
        assert_eq!(bars[1].updated, (CHART_HEIGHT - 30, 30));
        assert_eq!(bars[1].warnings, (CHART_HEIGHT - 60, 30));
        assert!(bars[1].title.contains("10 updated, 10 warnings"));
        assert!(chart(&[]).is_empty());
    }

    #[test]
    fn words() {
        assert_eq!(plural(1u64, "record", "records"), "1 record");
        assert_eq!(plural(0u64, "record", "records"), "0 records");
        assert_eq!(warnings_of_kind(3, "conflict"), "3 conflicts");
        assert_eq!(warnings_of_kind(1, "conflict"), "1 conflict");
        assert_eq!(warnings_of_kind(2, "rejected"), "2 rejected records");
        assert_eq!(
            counts(&serde_json::json!({"created": 2, "updated": 0, "rejected": 1})),
            "2 created, 1 rejected"
        );
        assert_eq!(counts(&serde_json::json!({})), "no changes");
        assert_eq!(duration(&run(1, "sync", "{}")), "1.5 s");
        let names =
            std::collections::HashMap::from([("sm_1234abcd".to_string(), "office".to_string())]);
        assert_eq!(actor_words("sm_1234abcd", &names), "key “office”");
        assert_eq!(
            actor_words("sm_1234abcd (dashboard)", &names),
            "key “office” in the dashboard"
        );
        assert_eq!(actor_words("sm_99", &names), "key sm_99…");
        assert_eq!(actor_words("cli", &names), "the command line");
        assert_eq!(num(0u64), "0");
        assert_eq!(num(999u64), "999");
        assert_eq!(num(1000u64), "1,000");
        assert_eq!(num(1234567u64), "1,234,567");
        assert_eq!(plural(12345u64, "record", "records"), "12,345 records");
        assert_eq!(kind_words("kept_target"), "kept the website's values");
        assert_eq!(
            counts(&serde_json::json!({"created": 12000, "warnings": 1})),
            "12,000 created, 1 warning"
        );
    }
}
