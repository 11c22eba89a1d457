//! The streaming import scanner: for every input, read a few bytes at a time, it finds the
//! same elements as serde_json (byte for byte), it accepts an array serde_json refuses only
//! when an element itself is not JSON (which the import reports per record), and it returns
//! errors, never panics. The object form (`{"data": [...], ...}`) gives the same elements and
//! the other fields parsed.
#![no_main]
#[path = "dribble.rs"]
mod dribble;
use dribble::{Dribble, knobs};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;
use sync_manager::ingest::json_stream::{Flow, Shape, for_each_element_in};

/// Nesting deeper than serde_json's limit (128) makes it refuse what is otherwise JSON.
fn shallow(data: &[u8]) -> bool {
    data.iter().filter(|&&b| b == b'[' || b == b'{').count() < 100
}

#[derive(serde::Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
}

/// The top-level field names of an object, in order, repeats kept (serde_json's map keeps
/// the last of a repeated field; the scanner refuses a repeated field).
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn repeats_a_field(data: &[u8]) -> bool {
    serde_json::from_slice::<Keys>(data).is_ok_and(|Keys(keys)| {
        keys.iter()
            .enumerate()
            .any(|(i, key)| keys[..i].contains(key))
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((step, chunk, data)) = knobs(input) else {
        return;
    };
    let shape = if data.first() == Some(&b'{') {
        Shape::ArrayOrObject
    } else {
        Shape::Array
    };
    let mut elements: Vec<Vec<u8>> = Vec::new();
    let scanned = for_each_element_in(Dribble { data, step }, chunk, shape, |bytes, place| {
        assert!(place.offset as usize + bytes.len() <= data.len());
        assert_eq!(
            &data[place.offset as usize..][..bytes.len()],
            bytes,
            "wrong offset"
        );
        elements.push(bytes.to_vec());
        Ok(Flow::Continue)
    });
    let expected: Option<Vec<&RawValue>> = match shape {
        Shape::Array => serde_json::from_slice::<Vec<&RawValue>>(data).ok(),
        // The scanner parses the envelope's other fields; serde_json, skipping them, would
        // not even check that their strings are UTF-8: compare only on JSON text.
        _ if serde_json::from_slice::<Value>(data).is_err() => None,
        // Refused, for that or for an earlier fault (a "data" that is not an array).
        _ if repeats_a_field(data) => {
            assert!(scanned.is_err(), "an object repeating a field is accepted");
            return;
        }
        _ => serde_json::from_slice::<Wrapped>(data).ok().map(|w| w.data),
    };
    if let Some(expected) = expected {
        let envelope = match scanned {
            Ok(envelope) => envelope,
            Err(e) => panic!("serde_json reads the input, the scanner says: {e}"),
        };
        let expected: Vec<&[u8]> = expected.iter().map(|raw| raw.get().as_bytes()).collect();
        let found: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
        assert_eq!(found, expected, "different elements");
        if shape == Shape::ArrayOrObject {
            let object: serde_json::Map<String, Value> =
                serde_json::from_slice(data).expect("an object");
            for (key, value) in &envelope {
                assert_eq!(object.get(key), Some(value), "field {key:?} read wrongly");
            }
        }
    } else if shape == Shape::Array
        && scanned.is_ok()
        && shallow(data)
        && elements
            .iter()
            .all(|e| serde_json::from_slice::<Value>(e).is_ok())
    {
        panic!("the scanner accepts an array serde_json refuses, every element being JSON");
    }
});
