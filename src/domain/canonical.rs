//! Canonical JSON (object keys sorted, no insignificant whitespace) and its sha256 hash.
//!
//! The canonical text does not depend on serde_json's `preserve_order` feature: keys are sorted
//! here explicitly, so a dependency enabling that feature can never change a record's hash.
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Writes `value` as canonical JSON into `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(val, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Null, booleans and numbers have exactly one serde_json spelling.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    // Serialising a &str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).expect("writing a string into memory");
}

/// The canonical JSON text of `value`.
pub fn canonical_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    // Only valid UTF-8 is ever written.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// The canonical JSON text of `value` and the sha256 of it, as bytes; `capacity` is a hint
/// of the text's length (the length of the record's source text, say).
pub fn canonical_and_hash(value: &Value, capacity: usize) -> (String, [u8; 32]) {
    let mut out = Vec::with_capacity(capacity.max(64));
    write_canonical(value, &mut out);
    finish_canonical(out)
}

/// Canonical text written into `out`, as a string, and its sha256.
pub(crate) fn finish_canonical(out: Vec<u8>) -> (String, [u8; 32]) {
    let hash = Sha256::digest(&out).into();
    // Only valid UTF-8 is ever written.
    (
        String::from_utf8(out).expect("canonical JSON is UTF-8"),
        hash,
    )
}

/// Lowercase hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

/// Lowercase hex of some bytes, appended to `out` (the import writes two hashes a record).
pub fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0F)]);
    }
}

/// 32 bytes from 64 hex digits (either case), or `None` (a table lookup per digit: the source's
/// index decodes two such hashes per record).
pub fn hex32(text: &[u8]) -> Option<[u8; 32]> {
    const NIBBLES: [u8; 256] = {
        let mut table = [0xFF; 256];
        let mut i = 0;
        while i < 16 {
            table[b"0123456789abcdef"[i] as usize] = i as u8;
            table[b"0123456789ABCDEF"[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (NIBBLES[pair[0] as usize], NIBBLES[pair[1] as usize]);
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0F);
    }
    (invalid < 16).then_some(out)
}

/// Lowercase hex of some bytes.
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// A record in canonical form together with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub text: String,
    pub hash: String,
}

impl Canonical {
    pub fn of(value: &Value) -> Self {
        let text = canonical_string(value);
        let hash = sha256_hex(text.as_bytes());
        Canonical { text, hash }
    }
}

/// Hash of a record: sha256 of its canonical JSON.
pub fn hash_value(value: &Value) -> String {
    Canonical::of(value).hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn canonical_text_table() {
        let cases: &[(&str, &str)] = &[
            (r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#),
            (r#" { "a" : [ 1 , 2 ] } "#, r#"{"a":[1,2]}"#),
            (
                r#"{"z":{"y":1,"x":{"b":null,"a":true}}}"#,
                r#"{"z":{"x":{"a":true,"b":null},"y":1}}"#,
            ),
            (
                r#"{"s":"h\u00e9llo \"q\" \\ \n"}"#,
                r#"{"s":"héllo \"q\" \\ \n"}"#,
            ),
            (
                r#"{"n":1.5,"m":-3,"k":1e3,"big":12345678901234567890}"#,
                r#"{"big":12345678901234567890,"k":1000.0,"m":-3,"n":1.5}"#,
            ),
            (r#"[3,{"b":[],"a":{}}]"#, r#"[3,{"a":{},"b":[]}]"#),
            (r#""plain""#, r#""plain""#),
            (
                r#"{"😀":"ünï","A":"a","a":"A"}"#,
                r#"{"A":"a","a":"A","😀":"ünï"}"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical_string(&parse(input)), *expected, "input {input}");
        }
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let a = parse(r#"{"id":"P1","price":100,"location":{"city":"Madrid","lat":40.4}}"#);
        let b = parse(
            "{\n  \"location\" : { \"lat\" : 40.4, \"city\" : \"Madrid\" },\n  \"price\":100, \"id\":\"P1\"\n}",
        );
        assert_eq!(hash_value(&a), hash_value(&b));
    }

    #[test]
    fn different_content_gives_different_hash() {
        let a = json!({"id": "P1", "price": 100});
        let b = json!({"id": "P1", "price": 101});
        let c = json!({"id": "P1", "price": "100"});
        let d = json!({"id": "P1", "tags": [1, 2]});
        let e = json!({"id": "P1", "tags": [2, 1]});
        assert_ne!(hash_value(&a), hash_value(&b));
        assert_ne!(hash_value(&a), hash_value(&c));
        assert_ne!(hash_value(&d), hash_value(&e), "array order is significant");
    }

    #[test]
    fn hash_is_lowercase_hex_sha256_of_canonical_text() {
        // sha256("{}") is well known.
        assert_eq!(
            hash_value(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let h = hash_value(&json!({"a": 1}));
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn hex32_decodes_what_hex_encodes_and_nothing_else() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(5));
        let lower = hex::encode(bytes);
        assert_eq!(hex32(lower.as_bytes()), Some(bytes));
        assert_eq!(hex32(lower.to_uppercase().as_bytes()), Some(bytes));
        assert_eq!(hex32(&[b'f'; 64]), Some([0xFF; 32]));
        assert_eq!(hex32(&[b'0'; 64]), Some([0; 32]));
        for bad in [b'g', b'G', b' ', b'-', 0xC3, b'/', b':', b'@', b'`'] {
            let mut text = lower.clone().into_bytes();
            text[17] = bad;
            assert_eq!(hex32(&text), None, "{bad}");
        }
        assert_eq!(hex32(&lower.as_bytes()[..62]), None);
        assert_eq!(hex32(format!("{lower}00").as_bytes()), None);
    }

    #[test]
    fn hex_is_hex() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_lower(&bytes), hex::encode(&bytes));
        assert_eq!(hex_lower(&[]), "");
    }

    #[test]
    fn canonical_text_round_trips() {
        let v = parse(r#"{"b":[1,{"d":2,"c":"x"}],"a":"é"}"#);
        let text = canonical_string(&v);
        assert_eq!(parse(&text), v);
        assert_eq!(canonical_string(&parse(&text)), text);
    }
}
