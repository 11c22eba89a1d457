//! Identity extraction: whatever JSON stands in a record's `external_id` or `id` field (or the
//! record itself), the id is either refused with a reason or storable on every backend, the
//! same from the borrowed tree as from a `serde_json::Value`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sync_manager::domain::identity;
use sync_manager::ingest::borrowed::Node;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(field) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let record = match which % 4 {
        0 => field,
        1 => Value::Object(Map::from_iter([("id".to_string(), field)])),
        2 => Value::Object(Map::from_iter([("external_id".to_string(), field)])),
        _ => Value::Object(Map::from_iter([
            ("external_id".to_string(), field),
            ("id".to_string(), Value::from(7)),
        ])),
    };
    let result = identity::extract_external_id(&record);
    if let Ok(id) = &result {
        assert!(
            identity::storable_id(id),
            "an id that cannot be stored: {id:?}"
        );
        assert!(!id.is_empty());
    }
    let text = serde_json::to_vec(&record).expect("a Value serializes");
    if let Some(node) = Node::parse(&text) {
        assert_eq!(node.external_id(), result, "borrowed and Value disagree");
    }
});
