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
use sync_manager::service::json_stream::{Flow, Shape, for_each_element_in};

/// Nesting deeper than serde_json's limit (128) makes it refuse what is otherwise JSON.
fn shallow(data: &[u8]) -> bool {
    data.iter().filter(|&&b| b == b'[' || b == b'{').count() < 100
}

#[derive(serde::Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
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
