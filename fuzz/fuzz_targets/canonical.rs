//! The canonical text and hash: the borrowed tree the import parses into and a
//! `serde_json::Value` give the same canonical text, hash and external id for every input, and
//! the canonical text is its own canonical form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sync_manager::domain::{canonical, identity};
use sync_manager::ingest::borrowed::Node;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        // Not JSON: the borrowed parser must not take it either.
        assert!(
            Node::parse(data).is_none(),
            "the borrowed tree took what serde_json refuses"
        );
        return;
    };
    let (text, hash) = canonical::canonical_and_hash(&value, 0);
    let again: Value = serde_json::from_str(&text).expect("the canonical text is JSON");
    assert_eq!(
        canonical::canonical_string(&again),
        text,
        "canonical text is not stable"
    );
    if let Some(node) = Node::parse(data) {
        assert_eq!(
            node.canonical_and_hash(0),
            (text, hash),
            "borrowed and Value disagree"
        );
        assert_eq!(node.external_id(), identity::extract_external_id(&value));
    }
});
