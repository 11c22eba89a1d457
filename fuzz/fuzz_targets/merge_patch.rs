//! JSON merge patch (RFC 7396) on any pair of documents `[target, patch]`: it never panics,
//! applying the same patch twice changes nothing more, a patch that is not an object replaces
//! the target, and no `null` of an object patch survives in the result.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sync_manager::domain::patch::merge_patch;

/// Whether `patch` (an object patch) left one of its nulls in `result`.
fn keeps_a_null(result: &Value, patch: &Value) -> bool {
    let (Value::Object(result), Value::Object(patch)) = (result, patch) else {
        return false;
    };
    patch
        .iter()
        .any(|(key, value)| match (value, result.get(key)) {
            (Value::Null, Some(_)) => true,
            (Value::Object(_), Some(inner)) => keeps_a_null(inner, value),
            _ => false,
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(pair)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok([target, patch]) = <[Value; 2]>::try_from(pair) else {
        return;
    };
    let mut once = target.clone();
    merge_patch(&mut once, &patch);
    let mut twice = once.clone();
    merge_patch(&mut twice, &patch);
    assert_eq!(once, twice, "merge patch is not idempotent");
    if !patch.is_object() {
        assert_eq!(once, patch, "a non-object patch must replace the target");
    }
    assert!(!keeps_a_null(&once, &patch), "a null of the patch survived");
});
