//! How an input's records are laid out, decided the same way for the CLI, the API and the
//! dashboard: a JSON array, `{"data": [...]}`, or one record per line (NDJSON), from the file
//! name when there is one and else from the first bytes. Anything else gets one clear refusal
//! everywhere (an empty input, a single object, a CSV file).
use super::json_stream::Shape;
use std::io::Read;

/// Why an input is not records in a shape the import takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    Empty,
    SingleObject,
    Csv,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FormatError::Empty => {
                "the input is empty: send records as a JSON array ([{\"id\": …}, …]), as \
                 {\"data\": [...]}, or one JSON object per line (NDJSON)"
            }
            FormatError::SingleObject => {
                "this is a single object (with no \"data\" field); send an array \
                 ([{\"id\": …}, …]), or {\"data\": [...]} (or one object per line, as NDJSON)"
            }
            FormatError::Csv => {
                "this file looks like CSV: CSV import is not there yet; export the records as \
                 JSON (an array, or {\"data\": [...]}) or NDJSON (one object per line)"
            }
        })
    }
}

impl std::error::Error for FormatError {}

/// The shape a file name says: one record per line for `.ndjson` / `.jsonl`, a refusal for
/// `.csv` / `.tsv`, `None` (decided by the content) for anything else.
pub fn shape_of_name(name: &str) -> Result<Option<Shape>, FormatError> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        Ok(Some(Shape::Lines))
    } else if lower.ends_with(".csv") || lower.ends_with(".tsv") {
        Err(FormatError::Csv)
    } else {
        Ok(None)
    }
}

/// The most of an input read to decide its shape (a first line longer than this is taken as
/// the start of one JSON document).
const MAX_HEAD: usize = 2 << 20;

/// Reads the start of `reader`: enough to decide its shape with [`shape_of_head`] (its first
/// line and the first character after it), at most [`MAX_HEAD`] bytes; and whether that was
/// all of it.
pub fn read_head(reader: &mut impl Read) -> std::io::Result<(Vec<u8>, bool)> {
    let mut head = Vec::with_capacity(8192);
    let mut buf = [0u8; 8192];
    while head.len() < MAX_HEAD && !decided(&head) {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok((head, true)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&buf[..n]);
    }
    Ok((head, false))
}

/// Whether `head` holds enough to decide: a first character that is not `{`, or a first line
/// and something after it.
fn decided(head: &[u8]) -> bool {
    let text = head.trim_ascii_start();
    match text.first() {
        None => false,
        Some(b'{') => text
            .iter()
            .position(|b| *b == b'\n')
            .is_some_and(|nl| !text[nl..].trim_ascii_start().is_empty()),
        Some(_) => true,
    }
}

/// The shape of an input that starts with `head` (all of it when `whole`): an array or an
/// object with `data`, several lines of one object each, or a refusal.
pub fn shape_of_head(head: &[u8], whole: bool) -> Result<Shape, FormatError> {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = text.trim_ascii_start();
    let Some(&first) = text.first() else {
        return if whole {
            Err(FormatError::Empty)
        } else {
            Ok(Shape::ArrayOrObject)
        };
    };
    match first {
        b'[' => Ok(Shape::ArrayOrObject),
        b'{' => {
            let (line, rest) = match text.iter().position(|b| *b == b'\n') {
                Some(nl) => (&text[..nl], &text[nl..]),
                None => (text, &[][..]),
            };
            match serde_json::from_slice::<serde_json::Value>(line) {
                // `{"data": [...]}` on one line.
                Ok(serde_json::Value::Object(map)) if map.contains_key("data") => {
                    Ok(Shape::ArrayOrObject)
                }
                Ok(serde_json::Value::Object(_)) if !rest.trim_ascii_start().is_empty() => {
                    Ok(Shape::Lines)
                }
                Ok(serde_json::Value::Object(_)) if whole => Err(FormatError::SingleObject),
                // An object over several lines: the parser says what is wrong with it.
                _ => Ok(Shape::ArrayOrObject),
            }
        }
        _ if looks_like_csv(text) => Err(FormatError::Csv),
        // The parser says where it goes wrong.
        _ => Ok(Shape::ArrayOrObject),
    }
}

/// A first line of several fields separated by commas, semicolons or tabs, and no JSON.
fn looks_like_csv(text: &[u8]) -> bool {
    let line = text.split(|b| *b == b'\n').next().unwrap_or(text);
    let separators = line
        .iter()
        .filter(|b| matches!(b, b',' | b';' | b'\t'))
        .count();
    separators > 0 && !line.contains(&b'{') && !line.contains(&b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Result<Shape, FormatError> {
        shape_of_head(text.as_bytes(), true)
    }

    #[test]
    fn the_same_rule_for_every_input() {
        assert_eq!(shape("[{\"id\": 1}]"), Ok(Shape::ArrayOrObject));
        assert_eq!(shape(" \n[]"), Ok(Shape::ArrayOrObject));
        assert_eq!(
            shape("{\"data\": [{\"id\": 1}]}\n"),
            Ok(Shape::ArrayOrObject)
        );
        assert_eq!(shape("{\n  \"data\": []\n}"), Ok(Shape::ArrayOrObject));
        assert_eq!(shape("{\"id\": 1}\n{\"id\": 2}\n"), Ok(Shape::Lines));
        assert_eq!(shape("\u{feff}{\"id\": 1}\n{\"id\": 2}"), Ok(Shape::Lines));
        assert_eq!(shape("{\"id\": 1}"), Err(FormatError::SingleObject));
        assert_eq!(shape("{\"id\": 1}\n\n  \n"), Err(FormatError::SingleObject));
        assert_eq!(shape(""), Err(FormatError::Empty));
        assert_eq!(shape(" \n\t"), Err(FormatError::Empty));
        assert_eq!(shape("id,title\n1,Villa\n"), Err(FormatError::Csv));
        assert_eq!(shape("id;title\n1;Villa"), Err(FormatError::Csv));
        // Not JSON and not CSV: the parser explains.
        assert_eq!(shape("hello"), Ok(Shape::ArrayOrObject));
        // A pretty-printed single object: the parser says it has no "data".
        assert_eq!(shape("{\n  \"id\": 1\n}"), Ok(Shape::ArrayOrObject));
    }

    #[test]
    fn names_decide_first() {
        assert_eq!(shape_of_name("a.ndjson"), Ok(Some(Shape::Lines)));
        assert_eq!(shape_of_name("A.JSONL"), Ok(Some(Shape::Lines)));
        assert_eq!(shape_of_name("a.json"), Ok(None));
        assert_eq!(shape_of_name("export.csv"), Err(FormatError::Csv));
    }

    #[test]
    fn the_head_is_read_until_it_decides() {
        let mut input: &[u8] = b"{\"id\": 1}\n{\"id\": 2}\n{\"id\": 3}";
        let (head, whole) = read_head(&mut input).unwrap();
        assert!(head.starts_with(b"{\"id\": 1}\n{"));
        assert_eq!(shape_of_head(&head, whole), Ok(Shape::Lines));
        let mut input: &[u8] = b"{\"id\": 1}\n";
        let (head, whole) = read_head(&mut input).unwrap();
        assert!(whole);
        assert_eq!(shape_of_head(&head, whole), Err(FormatError::SingleObject));
        let mut input: &[u8] = b"";
        assert_eq!(read_head(&mut input).unwrap(), (Vec::new(), true));
    }
}
