//! What people call a record: its title, so that pages name listings instead of showing ids.
use serde_json::{Map, Value};

/// Longest title shown, in characters (longer ones are cut with "…").
const MAX_CHARS: usize = 80;

/// A record's title: its `title` or `name` field, else its first short text field (in field
/// order) that is not its id; `None` when it has none.
pub fn title_of(data: &Map<String, Value>) -> Option<String> {
    let found = ["title", "name"]
        .iter()
        .find_map(|k| data.get(*k).and_then(text))
        .or_else(|| {
            data.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "id" | "external_id"))
                .filter_map(|(_, v)| text(v))
                .find(|s| s.chars().count() <= MAX_CHARS && !looks_like_a_link(s))
        })?;
    Some(shorten(found))
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The title of a record stored as JSON text (`None` for text that is not an object).
pub fn title_of_text(data: &str) -> Option<String> {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(map)) => title_of(&map),
        _ => None,
    }
}

fn looks_like_a_link(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn shorten(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(MAX_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn title(v: Value) -> Option<String> {
        title_of(v.as_object().unwrap())
    }

    #[test]
    fn title_then_name_then_first_short_text() {
        assert_eq!(
            title(json!({"id": "P1", "name": "N", "title": "Villa"})),
            Some("Villa".into())
        );
        assert_eq!(
            title(json!({"id": "P1", "name": "Flat"})),
            Some("Flat".into())
        );
        assert_eq!(
            title(json!({"id": "P1", "title": " ", "city": "Marbella", "price": 5})),
            Some("Marbella".into())
        );
        assert_eq!(
            title(json!({"external_id": "P1", "a_url": "https://x", "zone": "south"})),
            Some("south".into())
        );
        assert_eq!(title(json!({"id": "P1", "price": 5})), None);
        assert_eq!(title_of_text("[1]"), None);
        assert_eq!(
            title_of_text(r#"{"id": 1, "title": "Villa\n  with   pool"}"#),
            Some("Villa with pool".into())
        );
    }

    #[test]
    fn long_titles_are_cut() {
        let long = "x".repeat(200);
        let t = title(json!({"title": long})).unwrap();
        assert_eq!(t.chars().count(), MAX_CHARS);
        assert!(t.ends_with('…'));
        // A long text that is not the title is no title.
        assert_eq!(title(json!({"description": "y".repeat(200)})), None);
    }
}
