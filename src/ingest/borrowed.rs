//! A record parsed without copying: strings borrowed from the input where they hold no escape,
//! objects as sorted entry lists. Gives the same external id and the same canonical text as
//! parsing into a `serde_json::Value` (`crate::domain::canonical`), at a fraction of the
//! allocations; the import's parser uses it for every record it has to parse.
use crate::domain::canonical::{finish_canonical, write_string};
use crate::domain::identity::{IdentityError, identity_field, identity_of};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use std::borrow::Cow;

/// A JSON value borrowing from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Entries sorted by key (stably: of equal keys the last one counts, as in a `Value`).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// The key serde_json gives a special meaning when it parses into a `Value` (its raw-value
/// marker); an object holding it is left to that parser.
const SERDE_JSON_RAW_VALUE_KEY: &str = "$serde_json::private::RawValue";

impl<'a> Node<'a> {
    /// Parses one JSON value; `None` when the text is not one (or is one that only
    /// `serde_json::Value` parses the way the rest of the program expects): the caller then
    /// parses it into a `Value`, which also gives the error message.
    pub fn parse(text: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(text).ok()
    }

    /// The object's value for `key` (the last of equal keys).
    fn get(&self, key: &str) -> Option<&Node<'a>> {
        let Node::Object(entries) = self else {
            return None;
        };
        let end = entries.partition_point(|(k, _)| k.as_ref() <= key);
        entries[..end]
            .last()
            .filter(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// The record's external id: see `crate::domain::identity::extract_external_id`.
    pub fn external_id(&self) -> Result<String, IdentityError> {
        if !matches!(self, Node::Object(_)) {
            return Err(IdentityError::NotAnObject);
        }
        let field = identity_field(|key| self.get(key), |v| *v == Node::Null)?;
        // The identity rules look at the field's kind, and at its text for strings and
        // numbers only.
        identity_of(&match field {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.to_string()),
            Node::Array(_) => Value::Array(Vec::new()),
            Node::Object(_) => Value::Object(Default::default()),
        })
    }

    /// Writes the canonical JSON text, the same as `canonical::write_canonical` of the `Value`
    /// this text parses into.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Node::String(s) => write_text(s, out),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out);
                }
                out.push(b']');
            }
            Node::Object(entries) => {
                out.push(b'{');
                let mut first = true;
                for (i, (key, value)) in entries.iter().enumerate() {
                    // Of equal keys, the last one.
                    if entries.get(i + 1).is_some_and(|(next, _)| next == key) {
                        continue;
                    }
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_text(key, out);
                    out.push(b':');
                    value.write_canonical(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The canonical text and its sha256 (see `canonical::canonical_and_hash`).
    pub fn canonical_and_hash(&self, capacity: usize) -> (String, [u8; 32]) {
        let mut out = Vec::with_capacity(capacity.max(64));
        self.write_canonical(&mut out);
        finish_canonical(out)
    }
}

/// A string as serde_json writes it.
#[expect(
    clippy::ptr_arg,
    reason = "whether the text is borrowed is what this looks at"
)]
fn write_text(text: &Cow<str>, out: &mut Vec<u8>) {
    match text {
        // Borrowed: no escape in the input, so nothing serde_json would escape (JSON text
        // holds no raw `"`, `\\` or control character inside a string).
        Cow::Borrowed(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(s) => write_string(s, out),
    }
}

/// A string, borrowed when the input holds it unescaped.
struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Text).map(Key)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Node::Number(v.into()))
    }

    // As `Value` does: a float that is not finite is null.
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Text.visit_borrowed_str(v).map(Node::String)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Text.visit_str(v).map(Node::String)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Text.visit_string(v).map(Node::String)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            if key == SERDE_JSON_RAW_VALUE_KEY {
                return Err(serde::de::Error::custom("left to serde_json"));
            }
            entries.push((key, map.next_value()?));
        }
        // Stable: equal keys keep their order, the last one counts.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Node::Object(entries))
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::canonical::canonical_and_hash;
    use crate::domain::identity::extract_external_id;

    /// Parsing into a `Node` and into a `Value` give the same id, text and hash.
    fn same(text: &str) {
        let node = Node::parse(text.as_bytes()).unwrap_or_else(|| panic!("parses: {text}"));
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(node.external_id(), extract_external_id(&value), "{text}");
        assert_eq!(
            node.canonical_and_hash(16),
            canonical_and_hash(&value, 16),
            "{text}"
        );
    }

    #[test]
    fn gives_what_a_value_gives() {
        let cases = [
            r#"{"id":"P1","b":1,"a":2}"#,
            r#" { "a" : [ 1 , 2 ] , "id" : 7 } "#,
            r#"{"z":{"y":1,"x":{"b":null,"a":true}},"external_id":"E"}"#,
            r#"{"s":"h\u00e9llo \"q\" \\ \n \t \u0001 \/","id":"\u0050\u0031"}"#,
            r#"{"n":1.5,"m":-3,"k":1e3,"big":12345678901234567890,"bigger":123456789012345678901234}"#,
            r#"{"f":-0,"g":-0.0,"h":0.1,"i":1E-7,"j":2.5e+300,"l":-9223372036854775808}"#,
            r#"[3,{"b":[],"a":{}}]"#,
            r#""plain""#,
            r#"{"😀":"ünï","A":"a","a":"A","":"empty key","ä":1,"z":2}"#,
            r#"{"id":"A","id":"B","x":1,"x":{"b":2,"a":1},"x":[1]}"#,
            r#"{"external_id":null,"id":"P1"}"#,
            r#"{"external_id":"","id":"P1"}"#,
            r#"{"id":1.0}"#,
            r#"{"id":true}"#,
            r#"{"id":[1]}"#,
            r#"{"id":{"a":1}}"#,
            r#"{"id":null}"#,
            r#"{"title":"no id"}"#,
            r#"{"k\"ey":"v","k\\ey":"w","ke\u0079":"x"}"#,
            r#"{"a\u0000b":"\ud83d\ude00","id":"x"}"#,
            "null",
            "true",
            "[]",
            "{}",
            "-12.5e-3",
        ];
        for text in cases {
            same(text);
        }
    }

    #[test]
    fn leaves_serde_jsons_raw_value_key_and_bad_json_to_serde_json() {
        assert!(Node::parse(br#"{"$serde_json::private::RawValue":"1"}"#).is_none());
        assert!(Node::parse(br#"{"id":"P1",}"#).is_none());
        assert!(Node::parse(b"{\"id\":\"a\x01b\"}").is_none());
        assert!(Node::parse(b"{\"id\":\"\xff\"}").is_none());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let node = Node::parse(br#"{"id":"P1","t":"a\nb"}"#).unwrap();
        let Node::Object(entries) = node else {
            panic!("an object")
        };
        assert!(matches!(
            entries[0],
            (Cow::Borrowed("id"), Node::String(Cow::Borrowed("P1")))
        ));
        assert!(matches!(entries[1].1, Node::String(Cow::Owned(_))));
    }
}
